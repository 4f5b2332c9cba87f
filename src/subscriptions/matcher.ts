import type { Resource, Subscription } from '@medplum/fhirtypes';
import { isResultParameter, type CriteriaSieve, type SearchEngine, type VersionCheck } from '../search/index.js';
import { grantingScopes, grantsUnconfined, loadPolicy, type AccessPolicy, type StoredPolicy } from '../smart-auth/index.js';
import type { BatchedTransaction, Database, Queryable } from '../store/index.js';
import { feedStartSql, readFeed, toFeedStart, type FeedCursor, type FeedRow, type FeedStartRow } from './feed.js';
import { appendEvents, type NewEvent } from './state.js';
import { parseSubscription, type SubscriptionSpec } from './subscription-spec.js';
import { isTopicResource, parseTopic, type Interaction, type Topic } from './topic.js';
import { loadTopics } from './topic-lookup.js';
import { fhirPathPasses, queryCriteriaOutcome, triggerApplies } from './trigger.js';
import type { StepOutcome } from './loop.js';
import { CHANNELS } from './vocabulary.js';

/** An arbitrary constant: the advisory lock held by the one process matching at a time. */
const MATCHER_LOCK = 7_254_005;

interface ActiveSubscription {
  spec: SubscriptionSpec;
  /** The creator's policy; absent for the server's own subscriptions. */
  owner?: AccessPolicy;
  /** The feed position of the version this entry comes from: older rows of it are not applied. */
  sinceSeq: number;
  /** Per resource type: the filters merged into one search (the same object every time, so the search caches its compilation). */
  filters: Map<string, URLSearchParams>;
  /** Per resource type: the outcome of the check when it needs no query (see knownOutcome). */
  known: Map<string, boolean | undefined>;
}

type Side = 'current' | 'previous';
type Answer = () => boolean;

/**
 * The matcher turns the change feed into each subscription's numbered events. One process at a
 * time holds it (an advisory lock); it reads final feed rows in order (feed.ts), evaluates every
 * active subscription whose type or topic concerns the row, and stores the events and the feed
 * position in one transaction, then wakes the deliverers with a notification sent on commit.
 *
 * Subscriptions and topics are themselves in the feed, so the set evaluated for a row is the set
 * active at that row's position. When another process moved the position meanwhile, the sets are
 * reloaded from the tables.
 */
export class Matcher {
  private subscriptions = new Map<string, ActiveSubscription>();
  private topics = new Map<string, Topic>();
  private topicUrls = new Map<string, string>();
  private byType?: Map<string, CriteriaSieve<ActiveSubscription>>;
  private lastCursor?: FeedCursor;
  /** Whether the window of `lastCursor` had no more rows after it (its next run need not look). */
  private windowDone = false;

  constructor(
    private readonly db: Database,
    private readonly search: SearchEngine,
    private readonly batchSize = 200,
  ) {}

  /**
   * One batch: 'more' when it was full (call again), 'later' when it took the rest of what was final
   * (more comes with the next writes), 'idle' when nothing is final yet, 'busy' when another process
   * matches.
   */
  async runOnce(): Promise<StepOutcome> {
    let next: FeedCursor | undefined;
    let windowDone = false;
    try {
      // A transaction like the write path's (batched; retried after a deadlock or serialization
      // failure). Each attempt starts from the tables, not from caches an aborted attempt changed.
      const outcome = await this.db.transaction(async (tx): Promise<StepOutcome> => {
        const { rows } = await tx.beginWith<FeedStartRow & { locked: boolean }>(feedStartSql(`pg_try_advisory_xact_lock(${MATCHER_LOCK}) AS locked`));
        const start = toFeedStart(rows[0]);
        if (!rows[0].locked) return 'busy';
        const ours = this.lastCursor !== undefined && sameCursor(this.lastCursor, start.stored);
        if (!ours) await this.reload(tx);
        this.lastCursor = undefined;
        const batch = await readFeed(tx, this.batchSize, this.contentTypes(), { ...start, windowDone: ours && this.windowDone });
        next = batch.next;
        windowDone = batch.windowDone;
        if (batch.rows.length === 0) return 'idle';
        const events: NewEvent[] = [];
        for (const row of batch.rows) {
          await this.apply(tx, row);
          events.push(...(await this.evaluate(tx, row)));
        }
        await appendEvents(tx, events, CHANNELS.events, batch.next);
        return batch.rows.length >= this.batchSize ? 'more' : 'later';
      });
      // Committed: the caches are those of the stored position.
      if (outcome !== 'busy') {
        this.lastCursor = next;
        this.windowDone = windowDone;
      }
      return outcome;
    } catch (error) {
      this.lastCursor = undefined;
      throw error;
    }
  }

  /** The active subscriptions and the topics as stored now. */
  private async reload(db: Queryable): Promise<void> {
    const { rows } = await db.query<{ content: Subscription; owner: StoredPolicy | null; seq: string | null }>(
      `SELECT r.content, s.owner,
              (SELECT max(h.seq) FROM resource_history h WHERE h.resource_type = 'Subscription' AND h.id = r.id) AS seq
         FROM resource r LEFT JOIN subscription_state s ON s.id = r.id
        WHERE r.resource_type = 'Subscription' AND NOT r.deleted AND r.content ->> 'status' = 'active'`,
    );
    this.subscriptions = new Map();
    for (const row of rows) {
      const entry = activeEntry(row.content, row.owner, Number(row.seq ?? 0));
      if (entry) this.subscriptions.set(entry.spec.id, entry);
    }
    this.topics = await loadTopics(db);
    this.topicUrls = new Map([...this.topics.values()].map((topic) => [topic.id, topic.url]));
    this.byType = undefined;
  }

  /**
   * Subscriptions and topics change in feed order. A subscription's change refiles it alone (a
   * clinic creating subscriptions by the thousand refiled them all for each one); a topic's change
   * may concern any subscription of it, and the index is built again.
   */
  private async apply(db: Queryable, row: FeedRow): Promise<void> {
    if (row.resourceType === 'Subscription') {
      const cached = this.subscriptions.get(row.id);
      if (cached && row.seq <= cached.sinceSeq) return;
      if (cached) this.unfile(cached);
      this.subscriptions.delete(row.id);
      const content = row.resource as Subscription | undefined;
      if (content?.status === 'active') {
        const { rows } = await db.query<{ owner: StoredPolicy | null }>('SELECT owner FROM subscription_state WHERE id = $1', [row.id]);
        const entry = activeEntry(content, rows[0]?.owner ?? null, row.seq);
        if (entry) {
          this.subscriptions.set(row.id, entry);
          this.file(entry);
        }
      }
    } else if (row.resourceType === 'Basic') {
      const previousUrl = this.topicUrls.get(row.id);
      if (!previousUrl && !isTopicResource(row.resource as Resource | undefined)) return;
      if (previousUrl) this.topics.delete(previousUrl);
      this.topicUrls.delete(row.id);
      if (row.resource && isTopicResource(row.resource)) {
        try {
          const topic = parseTopic(row.resource);
          this.topics.set(topic.url, topic);
          this.topicUrls.set(row.id, topic.url);
        } catch {
          // A topic that cannot be read triggers nothing.
        }
      }
      this.byType = undefined;
    }
  }

  /** The types whose content the matcher reads: those subscriptions concern, and subscriptions and topics themselves. */
  private contentTypes(): string[] {
    return ['Subscription', 'Basic', ...this.typeIndex().keys()];
  }

  /** Per resource type, the subscriptions concerning it, sifted by the exact values their criteria or filters require. */
  private typeIndex(): Map<string, CriteriaSieve<ActiveSubscription>> {
    if (this.byType && !anyStale(this.byType.values())) return this.byType;
    this.byType = new Map();
    for (const sub of this.subscriptions.values()) this.file(sub);
    return this.byType;
  }

  /** The types a subscription concerns, each with the search it is filed by. */
  private concerns(sub: ActiveSubscription): [string, URLSearchParams][] {
    const { spec } = sub;
    const found: [string, URLSearchParams][] = [];
    if (spec.criteria) found.push([spec.criteria.type, spec.criteria.params]);
    const topic = spec.topicUrl ? this.topics.get(spec.topicUrl) : undefined;
    for (const type of new Set(topic?.triggers.map((t) => t.resourceType) ?? [])) found.push([type, filterParams(sub, type)]);
    return found;
  }

  /** Files a subscription in the index, when there is one (else the next build files it). */
  private file(sub: ActiveSubscription): void {
    if (!this.byType) return;
    for (const [type, params] of this.concerns(sub)) {
      let sieve = this.byType.get(type);
      if (!sieve) this.byType.set(type, (sieve = this.search.criteriaSieve(type)));
      sieve.add(sub, params);
    }
  }

  /** Takes a subscription out of the index; a type no subscription concerns any more leaves it (its content is then not read). */
  private unfile(sub: ActiveSubscription): void {
    if (!this.byType) return;
    for (const [type, params] of this.concerns(sub)) {
      const sieve = this.byType.get(type);
      sieve?.remove(sub, params);
      if (sieve?.size === 0) this.byType.delete(type);
    }
  }

  /** The events one feed row makes: one per subscription it matches. */
  private async evaluate(tx: BatchedTransaction, row: FeedRow): Promise<NewEvent[]> {
    const sieve = this.typeIndex().get(row.resourceType);
    if (!sieve) return [];
    const deleted = row.method === 'DELETE';
    // A row read before this batch's reload may lack content that a subscription now asks about.
    const current = deleted ? undefined : row.contentOmitted ? await readVersionContent(tx, row.resourceType, row.id, row.versionId) : row.resource;
    let previous = deleted && row.versionId > 1 ? await readVersionContent(tx, row.resourceType, row.id, row.versionId - 1) : undefined;
    // Classic criteria are not asked about deletes, and a topic's filters then see the previous version.
    const sifted = deleted ? previous : current;
    if (!sifted) return [];
    const indexed = this.search.versionIndex(sifted);
    const candidates = [...sieve.candidates(indexed.index)].filter((sub) => row.seq > sub.sinceSeq && !(sub.spec.end && sub.spec.end < row.lastUpdated));
    if (candidates.length === 0) return [];
    // A topic's triggers tell a create from an update and may compare with the previous version.
    if (!deleted && row.versionId > 1 && candidates.some((c) => c.spec.flavour === 'topic')) {
      previous = await readVersionContent(tx, row.resourceType, row.id, row.versionId - 1);
    }
    const interaction: Interaction = deleted ? 'delete' : previous ? 'update' : 'create';

    const checks: Record<Side, VersionCheck[]> = { current: [], previous: [] };
    const results: Record<Side, boolean[]> = { current: [], previous: [] };
    const ask = (side: Side, check: VersionCheck, sub?: ActiveSubscription): Answer => {
      if ((side === 'current' && !current) || (side === 'previous' && !previous)) return () => false;
      let known: boolean | undefined;
      if (sub?.known.has(row.resourceType)) known = sub.known.get(row.resourceType);
      else {
        known = knownOutcome(row.resourceType, check);
        sub?.known.set(row.resourceType, known);
      }
      if (known !== undefined) return () => known;
      const index = checks[side].push(check) - 1;
      return () => results[side][index] === true;
    };

    // A topic's triggers are the same for all its subscriptions: their FHIRPath (slow) and queries
    // are evaluated once per row, not once per subscription.
    const triggersByTopic = new Map<Topic, Answer[]>();
    const topicTriggers = (topic: Topic): Answer[] => {
      let triggers = triggersByTopic.get(topic);
      if (triggers) return triggers;
      triggers = [];
      for (const trigger of topic.triggers) {
        if (!triggerApplies(trigger, row.resourceType, interaction)) continue;
        if (trigger.fhirPath && !fhirPathPasses(trigger.fhirPath, current, previous)) continue;
        const query = trigger.query;
        if (!query) {
          triggers.push(() => true);
          continue;
        }
        const before = query.previous && previous ? ask('previous', { params: queryParams(query.previous) }) : undefined;
        const after = query.current && current ? ask('current', { params: queryParams(query.current) }) : undefined;
        triggers.push(() => queryCriteriaOutcome(query, before?.(), after?.(), interaction));
      }
      triggersByTopic.set(topic, triggers);
      return triggers;
    };

    const decisions: { sub: ActiveSubscription; matched: Answer }[] = [];
    for (const sub of candidates) {
      const { spec, owner } = sub;
      if (spec.criteria) {
        if (interaction !== 'delete') decisions.push({ sub, matched: ask('current', { params: spec.criteria.params, access: owner }, sub) });
        continue;
      }
      const topic = spec.topicUrl ? this.topics.get(spec.topicUrl) : undefined;
      if (!topic || topic.status === 'retired') continue;
      const triggers = topicTriggers(topic);
      if (triggers.length === 0) continue;
      const filtered = ask(interaction === 'delete' ? 'previous' : 'current', { params: filterParams(sub, row.resourceType), access: owner }, sub);
      decisions.push({ sub, matched: () => triggers.some((t) => t()) && filtered() });
    }

    if (checks.current.length && current) {
      results.current = await this.search.matchVersion(tx, {
        resourceType: row.resourceType,
        id: row.id,
        versionId: row.versionId,
        lastUpdated: row.lastUpdated,
        resource: current,
        indexed,
      }, checks.current);
    }
    if (checks.previous.length && previous) {
      results.previous = await this.search.matchVersion(tx, {
        resourceType: row.resourceType,
        id: row.id,
        versionId: row.versionId - 1,
        lastUpdated: previous.meta?.lastUpdated ?? row.lastUpdated,
        resource: previous,
        indexed: deleted ? indexed : undefined,
      }, checks.previous);
    }
    return decisions
      .filter((d) => d.matched())
      .map(({ sub }) => ({
        subscriptionId: sub.spec.id,
        seq: row.seq,
        resourceType: row.resourceType,
        resourceId: row.id,
        versionId: row.versionId,
        interaction,
        occurred: row.lastUpdated,
      }));
  }

}

/** A topic subscription's filters on one type merged into one search (the same object every time: the search caches its compilation by it). */
function filterParams(sub: ActiveSubscription, type: string): URLSearchParams {
  let params = sub.filters.get(type);
  if (!params) {
    params = new URLSearchParams();
    for (const filter of sub.spec.filters.filter((f) => f.type === type)) for (const [k, v] of filter.params) params.append(k, v);
    sub.filters.set(type, params);
  }
  return params;
}

/** Whether a sieve was filed under another registry version (checked per feed row: no array made). */
function anyStale(sieves: Iterable<CriteriaSieve<ActiveSubscription>>): boolean {
  for (const sieve of sieves) if (sieve.stale) return true;
  return false;
}

function sameCursor(a: FeedCursor, b: FeedCursor): boolean {
  return a.low === b.low && a.high === b.high && a.afterSeq === b.afterSeq;
}

function activeEntry(content: Subscription, owner: StoredPolicy | null, seq: number): ActiveSubscription | undefined {
  try {
    return { spec: parseSubscription(content), owner: owner ? loadPolicy(owner) : undefined, sinceSeq: seq, filters: new Map(), known: new Map() };
  } catch {
    return undefined;
  }
}

/**
 * The outcome of a check that needs no query: a policy that grants no read on the type lets
 * nothing through; no criteria and an unconfined read (or no policy) let everything through.
 */
function knownOutcome(type: string, check: VersionCheck): boolean | undefined {
  if (check.access && grantingScopes(check.access, type, 'r').length === 0) return false;
  const criteria = [...check.params.keys()].filter((key) => !isResultParameter(key));
  if (criteria.length === 0 && (!check.access || grantsUnconfined(check.access, type, 'r'))) return true;
  return undefined;
}

/** Query criteria strings as searches, the same object for the same text (the search caches by it). */
const queries = new Map<string, URLSearchParams>();
function queryParams(text: string): URLSearchParams {
  let params = queries.get(text);
  if (!params) {
    if (queries.size > 1000) queries.clear();
    queries.set(text, (params = new URLSearchParams(text)));
  }
  return params;
}

async function readVersionContent(db: Queryable, type: string, id: string, versionId: number): Promise<Resource | undefined> {
  const { rows } = await db.queryPrepared<{ json: string | null }>(
    'SELECT content::text AS json FROM resource_history WHERE resource_type = $1 AND id = $2 AND version_id = $3',
    [type, id, versionId],
  );
  const json = rows[0]?.json;
  return json ? (JSON.parse(json) as Resource) : undefined;
}
