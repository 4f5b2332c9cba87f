import type { Resource } from '@medplum/fhirtypes';
import { errors } from '../errors.js';
import { BatchedTransaction, sqlLiteral } from './batched-transaction.js';
import type { Queryable } from './database.js';
import type { WriteHook } from './write-hooks.js';
import type { Change, HistoryMethod, WriteCommand, WriteResult } from './types.js';

interface CurrentRow {
  version_id: number;
  deleted: boolean;
  content: Resource | null;
}

const HISTORY_METHOD: Record<WriteCommand['operation'], HistoryMethod> = {
  create: 'POST',
  update: 'PUT',
  patch: 'PATCH',
  delete: 'DELETE',
};

const LOCK_SQL = (key: string) => `SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))`;

/** The transaction and the literals of `values`, when it can still begin with statements that hold them (one round trip for all). */
function beginningWith(tx: Queryable, values: string[]): { fresh: BatchedTransaction; literals: string[] } | undefined {
  if (!(tx instanceof BatchedTransaction) || !tx.fresh) return undefined;
  const literals = values.map(sqlLiteral);
  return literals.every((literal) => literal !== undefined) ? { fresh: tx, literals: literals as string[] } : undefined;
}

/**
 * Serialises all writers of one resource, across processes: a transaction-scoped advisory lock on
 * the resource's identity. Unlike a row lock it also covers a resource that does not exist yet.
 * As a transaction's first statement it goes with its BEGIN.
 */
export async function lockResource(tx: Queryable, resourceType: string, id: string): Promise<void> {
  const key = `${resourceType}/${id}`;
  const beginning = beginningWith(tx, [key]);
  if (beginning) await beginning.fresh.beginWith(LOCK_SQL(beginning.literals[0]));
  else await tx.query(LOCK_SQL('$1'), [key]);
}

/** The same lock without waiting: false when another transaction holds it (a sweeper then skips the resource). */
export async function tryLockResource(tx: Queryable, resourceType: string, id: string): Promise<boolean> {
  const { rows } = await tx.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked', [`${resourceType}/${id}`]);
  return rows[0].locked;
}

const READ_CURRENT_SQL = (type: string, id: string) => `SELECT version_id, deleted, content FROM resource WHERE resource_type = ${type} AND id = ${id}`;

/**
 * The resource's lock, then its current row: as a transaction's first statements, one message
 * with its BEGIN (one round trip where there were three: an update's lock, read, write and commit
 * were five). The read is its own statement, with a snapshot taken once the lock is granted, so it
 * sees the version a writer that held the lock committed.
 */
async function lockAndReadCurrentNow(tx: Queryable, resourceType: string, id: string): Promise<CurrentRow | undefined> {
  const beginning = beginningWith(tx, [`${resourceType}/${id}`, resourceType, id]);
  if (beginning) {
    const [key, type, ident] = beginning.literals;
    const { rows } = await beginning.fresh.beginWith<CurrentRow>(`${LOCK_SQL(key)}; ${READ_CURRENT_SQL(type, ident)}`);
    return rows[0];
  }
  await lockResource(tx, resourceType, id);
  const { rows } = await tx.query<CurrentRow>(READ_CURRENT_SQL('$1', '$2'), [resourceType, id]);
  return rows[0];
}

/** Per transaction: resources locked and read ahead (`lockForWrites`), each until its write takes it; null: none stored. */
const lockedAhead = new WeakMap<Queryable, Map<string, CurrentRow | null>>();

/**
 * Takes the write lock of many resources and reads their current rows in two statements, for a
 * transaction that will write them all (the entries of a transaction Bundle): their writes then
 * need no round trip of their own. Locks are taken in sorted order, so two transactions locking
 * overlapping sets cannot deadlock on them.
 */
export async function lockForWrites(tx: Queryable, targets: { resourceType: string; id: string }[]): Promise<void> {
  const byKey = new Map(targets.map((t) => [`${t.resourceType}/${t.id}`, t]));
  const keys = [...byKey.keys()].sort();
  if (keys.length === 0) return;
  await tx.query('SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest($1::text[]) WITH ORDINALITY AS t(k, n) ORDER BY n', [keys]);
  const { rows } = await tx.query<CurrentRow & { resource_type: string; id: string }>(
    `SELECT r.resource_type, r.id, r.version_id, r.deleted, r.content
       FROM unnest($1::text[], $2::text[]) AS t(resource_type, id) JOIN resource r USING (resource_type, id)`,
    [keys.map((key) => byKey.get(key)?.resourceType), keys.map((key) => byKey.get(key)?.id)],
  );
  const known = lockedAhead.get(tx) ?? new Map<string, CurrentRow | null>();
  for (const key of keys) known.set(key, null);
  for (const { resource_type, id, ...row } of rows) known.set(`${resource_type}/${id}`, row);
  lockedAhead.set(tx, known);
}

/** The resource's current row under its lock: read ahead by `lockForWrites`, else locked and read now. */
async function lockAndReadCurrent(tx: Queryable, resourceType: string, id: string): Promise<CurrentRow | undefined> {
  const key = `${resourceType}/${id}`;
  const known = lockedAhead.get(tx);
  const ahead = known?.get(key);
  if (ahead !== undefined) {
    // Once: after this write, the row read ahead is no longer the current one.
    known?.delete(key);
    return ahead ?? undefined;
  }
  return lockAndReadCurrentNow(tx, resourceType, id);
}

function checkIfMatch(command: WriteCommand, current: CurrentRow | undefined): void {
  if (command.ifMatch === undefined) return;
  const actual = current?.version_id ?? 0;
  if (actual !== command.ifMatch || !current) throw errors.versionConflict(`W/"${command.ifMatch}"`, actual);
}

/** The stored form: the client's content with the server's `id` and `meta.versionId` / `meta.lastUpdated`. */
function withServerMeta(resource: Resource, id: string, versionId: number, lastUpdated: string): Resource {
  return { ...resource, id, meta: { ...resource.meta, versionId: String(versionId), lastUpdated } };
}

/** Queues the history row and the current row of a version; they reach the database with the transaction's next batch. */
function storeVersion(tx: BatchedTransaction, change: Change, method: HistoryMethod): void {
  const json = change.resource ? JSON.stringify(change.resource) : null;
  const { resourceType, id, versionId, lastUpdated } = change;
  const key = [
    { name: 'resource_type', type: 'text[]', value: resourceType },
    { name: 'id', type: 'text[]', value: id },
    { name: 'version_id', type: 'integer[]', value: versionId },
    { name: 'last_updated', type: 'timestamptz[]', value: lastUpdated },
  ];
  tx.insertLater('resource_history', [...key, { name: 'method', type: 'text[]', value: method }, { name: 'content', type: 'jsonb[]', value: json }]);
  tx.insertLater(
    'resource',
    [...key, { name: 'deleted', type: 'boolean[]', value: change.resource === undefined }, { name: 'content', type: 'jsonb[]', value: json }],
    `ON CONFLICT (resource_type, id) DO UPDATE
       SET version_id = EXCLUDED.version_id, last_updated = EXCLUDED.last_updated, deleted = EXCLUDED.deleted, content = EXCLUDED.content`,
  );
}

/**
 * The one write path. Every create, update, patch, delete (from REST, transaction entries and
 * operations) comes here, inside a database transaction: lock the resource, check the expected
 * version, compute the new content, run the hooks (validation, access, domain rules), bump the
 * version, write the current and history rows, run the after-hooks (indexes, audit).
 * The history row is the change feed: it commits or rolls back with the change.
 */
export async function writeResource(tx: BatchedTransaction, hooks: readonly WriteHook[], command: WriteCommand): Promise<WriteResult> {
  const { resourceType, id, operation } = command;
  let current: CurrentRow | undefined;
  if (!command.freshId) current = await lockAndReadCurrent(tx, resourceType, id);
  checkIfMatch(command, current);
  const previous = current && !current.deleted ? (current.content ?? undefined) : undefined;

  if (operation === 'delete' && !previous) {
    return { outcome: 'unchanged', resourceType, id, versionId: current?.version_id ?? 0, lastUpdated: new Date().toISOString() };
  }
  if (operation === 'patch' && !previous) {
    throw current ? errors.gone(resourceType, id, current.version_id) : errors.notFound(resourceType, id);
  }

  const versionId = (current?.version_id ?? 0) + 1;
  const lastUpdated = new Date().toISOString();
  const change: Change = { operation, resourceType, id, versionId, lastUpdated, previous, access: command.access, trusted: command.trusted };
  if (operation !== 'delete') {
    if (!command.next) throw new Error(`write of ${operation} needs the next content`);
    change.resource = await command.next(previous);
  }
  for (const hook of hooks) await hook.beforeWrite?.(tx, change);
  if (change.resource) change.resource = withServerMeta(change.resource, id, versionId, lastUpdated);

  storeVersion(tx, change, HISTORY_METHOD[operation]);
  for (const hook of hooks) await hook.afterWrite?.(tx, change);
  await tx.flushIfLarge();

  const outcome = operation === 'delete' ? 'deleted' : previous ? 'updated' : 'created';
  return { outcome, resourceType, id, versionId, lastUpdated, resource: change.resource };
}
