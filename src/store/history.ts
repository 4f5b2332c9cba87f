import type { Queryable } from './database.js';
import { toStoredVersion } from './read.js';
import type { HistoryEntry, HistoryMethod } from './types.js';

export interface HistoryQuery {
  resourceType?: string;
  id?: string;
  /** Only versions last updated at or after this instant. */
  since?: Date;
  /** Only versions that were current at some point in [start, end). */
  at?: { start: Date; end: Date };
  count: number;
  /** Continue after this change-feed position (exclusive), newest first. */
  before?: number;
  /**
   * Only resources whose current row (alias `r`) meets this condition: the requester's access rule,
   * as SQL with `$?` placeholders, from search. Resources deleted since leave no current rows to judge by.
   */
  visible?: { sql: string; values: unknown[] };
}

interface HistoryRow {
  seq: string;
  resource_type: string;
  id: string;
  version_id: number;
  last_updated: Date;
  method: HistoryMethod;
  deleted: boolean;
  json: string | null;
}

/**
 * History at instance, type or system level, newest first, paged by the change-feed position
 * (`seq`), so a page boundary stays put while new versions are written.
 */
export async function readHistory(db: Queryable, query: HistoryQuery): Promise<HistoryEntry[]> {
  const where: string[] = [];
  const values: unknown[] = [];
  const bind = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  if (query.resourceType) where.push(`h.resource_type = ${bind(query.resourceType)}`);
  if (query.id) where.push(`h.id = ${bind(query.id)}`);
  if (query.since) where.push(`h.last_updated >= ${bind(query.since)}`);
  if (query.before !== undefined) where.push(`h.seq < ${bind(query.before)}`);
  if (query.visible) {
    const { sql, values: visibleValues } = query.visible;
    let next = 0;
    const numbered = sql.replace(/\$\?/g, () => bind(visibleValues[next++]));
    where.push(`EXISTS (SELECT 1 FROM resource r WHERE r.resource_type = h.resource_type AND r.id = h.id AND NOT r.deleted AND (${numbered}))`);
  }
  if (query.at) {
    // Current during [start, end): written before the end, and not replaced before the start.
    where.push(`h.last_updated < ${bind(query.at.end)}`);
    where.push(`NOT EXISTS (SELECT 1 FROM resource_history n
       WHERE n.resource_type = h.resource_type AND n.id = h.id AND n.version_id = h.version_id + 1
         AND n.last_updated <= ${bind(query.at.start)})`);
  }
  const { rows } = await db.query<HistoryRow>(
    `SELECT h.seq, h.resource_type, h.id, h.version_id, h.last_updated, h.method,
            h.method = 'DELETE' AS deleted, h.content::text AS json
       FROM resource_history h
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY h.seq DESC
      LIMIT ${bind(query.count)}`,
    values,
  );
  return rows.map((row) => ({ ...toStoredVersion(row), seq: Number(row.seq), method: row.method }));
}
