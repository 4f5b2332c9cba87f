import type { Queryable } from './database.js';
import type { StoredVersion } from './types.js';

export interface VersionRow {
  resource_type: string;
  id: string;
  version_id: number;
  last_updated: Date;
  deleted: boolean;
  json: string | null;
}

export function toStoredVersion(row: VersionRow): StoredVersion {
  return {
    resourceType: row.resource_type,
    id: row.id,
    versionId: row.version_id,
    lastUpdated: row.last_updated,
    deleted: row.deleted,
    json: row.json ?? undefined,
  };
}

/**
 * The current version (or the tombstone of a deleted resource), as stored JSON text. Prepared, as
 * is vread's: the statement is tiny, and its parsing and planning were a good part of its cost.
 */
export async function readCurrent(db: Queryable, resourceType: string, id: string): Promise<StoredVersion | undefined> {
  const { rows } = await db.queryPrepared<VersionRow>(
    `SELECT resource_type, id, version_id, last_updated, deleted, content::text AS json
       FROM resource WHERE resource_type = $1 AND id = $2`,
    [resourceType, id],
  );
  return rows[0] && toStoredVersion(rows[0]);
}

export async function readVersion(db: Queryable, resourceType: string, id: string, versionId: number): Promise<StoredVersion | undefined> {
  const { rows } = await db.queryPrepared<VersionRow>(
    `SELECT resource_type, id, version_id, last_updated, method = 'DELETE' AS deleted, content::text AS json
       FROM resource_history WHERE resource_type = $1 AND id = $2 AND version_id = $3`,
    [resourceType, id, versionId],
  );
  return rows[0] && toStoredVersion(rows[0]);
}

/** Current, not deleted versions of many resources at once (for transactions). */
export function readMany(db: Queryable, refs: { resourceType: string; id: string }[]): Promise<StoredVersion[]> {
  if (refs.length === 0) return Promise.resolve([]);
  return readSelected(db, 'SELECT * FROM unnest($1::text[], $2::text[])', [refs.map((r) => r.resourceType), refs.map((r) => r.id)]);
}

/**
 * The current, not deleted versions of the resources a query selects: `keys` is SQL giving pairs of
 * type and id (its values in `values`); at most `limit` of them (_include, _revinclude).
 */
export async function readSelected(db: Queryable, keys: string, values: unknown[], limit?: number): Promise<StoredVersion[]> {
  const { rows } = await db.query<VersionRow>(
    `SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.deleted, r.content::text AS json
       FROM resource r WHERE NOT r.deleted AND (r.resource_type, r.id) IN (${keys})${limit === undefined ? '' : ` LIMIT ${Number(limit)}`}`,
    values,
  );
  return rows.map(toStoredVersion);
}
