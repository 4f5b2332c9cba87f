import type { Basic } from '@medplum/fhirtypes';
import type { Queryable } from '../store/index.js';
import { parseTopic, type Topic } from './topic.js';
import { TOPIC_CODE, TOPIC_EXT } from './vocabulary.js';

const TOPICS_SQL = `SELECT content FROM resource
  WHERE resource_type = 'Basic' AND NOT deleted AND content -> 'code' -> 'coding' @> $1::jsonb`;

function readable(basic: Basic): Topic | undefined {
  try {
    return parseTopic(basic);
  } catch {
    return undefined;
  }
}

/** Every stored topic that can be used, by canonical URL. */
export async function loadTopics(db: Queryable): Promise<Map<string, Topic>> {
  const { rows } = await db.query<{ content: Basic }>(TOPICS_SQL, [JSON.stringify([TOPIC_CODE])]);
  const topics = new Map<string, Topic>();
  for (const row of rows) {
    const topic = readable(row.content);
    if (topic) topics.set(topic.url, topic);
  }
  return topics;
}

/** The stored topic with this canonical URL. */
export async function findTopic(db: Queryable, url: string): Promise<Topic | undefined> {
  const { rows } = await db.query<{ content: Basic }>(`${TOPICS_SQL} AND content -> 'extension' @> $2::jsonb`, [
    JSON.stringify([TOPIC_CODE]),
    JSON.stringify([{ url: TOPIC_EXT.url, valueUri: url }]),
  ]);
  for (const row of rows) {
    const topic = readable(row.content);
    if (topic) return topic;
  }
  return undefined;
}

/** The canonical URLs of every usable stored topic, sorted (for the CapabilityStatement). */
export async function topicCanonicals(db: Queryable): Promise<string[]> {
  return [...(await loadTopics(db)).keys()].sort();
}
