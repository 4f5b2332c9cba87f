import type { Queryable } from '../store/index.js';
import { toStoredVersion } from '../store/read.js';
import type { StoredVersion } from '../store/index.js';
import { criteriaToSql, SUPPORTED_PARAMETERS, type SqlFragment } from './criteria-sql.js';
import { parseCriteria, type Criterion } from './parse.js';

export { parseCriteria, parseCount, splitValues, RESULT_PARAMETERS, type Criterion } from './parse.js';
export { SUPPORTED_PARAMETERS } from './criteria-sql.js';

export interface SearchQuery {
  /** The types to search; none means all (system-level search). */
  resourceTypes: string[];
  criteria: Criterion[];
  count: number;
  offset: number;
  withTotal: boolean;
}

export interface SearchResult {
  matches: StoredVersion[];
  total?: number;
}

export function isSupportedParameter(name: string): boolean {
  return (SUPPORTED_PARAMETERS as readonly string[]).includes(name);
}

/** Numbers the `$?` placeholders of the fragments in order. */
function assemble(fragments: SqlFragment[], first = 1): { where: string; values: unknown[] } {
  let n = first - 1;
  const where = fragments.map((f) => f.sql.replace(/\$\?/g, () => `$${++n}`)).join(' AND ');
  return { where, values: fragments.flatMap((f) => f.values) };
}

function baseConditions(query: Pick<SearchQuery, 'resourceTypes' | 'criteria'>): SqlFragment[] {
  const types = query.resourceTypes;
  const type: SqlFragment[] =
    types.length === 1 ? [{ sql: 'r.resource_type = $?', values: [types[0]] }]
    : types.length > 1 ? [{ sql: 'r.resource_type = ANY($?)', values: [types] }]
    : [];
  return [...type, { sql: 'NOT r.deleted', values: [] }, ...criteriaToSql(query.criteria)];
}

export async function searchResources(db: Queryable, query: SearchQuery): Promise<SearchResult> {
  const { where, values } = assemble(baseConditions(query));
  const { rows } = await db.query(
    `SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.deleted, r.content::text AS json
       FROM resource r WHERE ${where}
      ORDER BY r.resource_type, r.id
      LIMIT ${Number(query.count)} OFFSET ${Number(query.offset)}`,
    values,
  );
  const matches = rows.map(toStoredVersion);
  if (!query.withTotal) return { matches };
  const counted = await db.query<{ total: string }>(`SELECT count(*) AS total FROM resource r WHERE ${where}`, values);
  return { matches, total: Number(counted.rows[0].total) };
}

/** The resources of one type matching a conditional operation's criteria (`If-None-Exist`, `PUT Type?...`). */
export async function findMatches(db: Queryable, resourceType: string, queryString: string, limit = 2): Promise<StoredVersion[]> {
  const criteria = parseCriteria(new URLSearchParams(queryString));
  const { matches } = await searchResources(db, { resourceTypes: [resourceType], criteria, count: limit, offset: 0, withTotal: false });
  return matches;
}
