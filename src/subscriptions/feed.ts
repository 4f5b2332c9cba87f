import type { Resource } from '@medplum/fhirtypes';
import type { HistoryMethod, Queryable } from '../store/index.js';

/** One committed change, as the subscriptions read it from the change feed (`resource_history`). */
export interface FeedRow {
  seq: number;
  resourceType: string;
  id: string;
  versionId: number;
  method: HistoryMethod;
  lastUpdated: Date;
  /** The version's content; absent for a deletion, and when it was not asked for (`contentOmitted`). */
  resource?: Resource;
  /** True when the version has content that was not read (its type was not among those asked for). */
  contentOmitted: boolean;
}

/**
 * Where the matcher is in the feed: it has done every row whose transaction id is below `low`,
 * and, of the rows with a transaction id in [low, high), those with `seq <= afterSeq`.
 */
export interface FeedCursor {
  low: string;
  high: string;
  afterSeq: number;
}

export interface FeedBatch {
  rows: FeedRow[];
  /** The position to store once the rows' events are stored (in the same transaction). */
  next: FeedCursor;
  /** No row of `next`'s window comes after `next.afterSeq` (windows are final: none can come later). */
  windowDone: boolean;
}

/** Where the feed stands as a run begins: the stored position and the horizon, read in one statement. */
export interface FeedStart {
  stored: FeedCursor;
  /** The lowest transaction id still running when it was read: every transaction below it had ended. */
  horizon: string;
  /** The stored window is known to have no row after `stored.afterSeq` (from the batch that stored it). */
  windowDone?: boolean;
}

export interface FeedStartRow {
  low: string;
  high: string;
  after_seq: string;
  horizon: string;
}

interface Row {
  seq: string;
  resource_type: string;
  id: string;
  version_id: number;
  method: HistoryMethod;
  last_updated: Date;
  json: string | null;
}

/*
 * Why this never loses a committed change, never shows a rolled-back one, and sees each once:
 *
 * `seq` is taken from a sequence when a history row is inserted, but the row becomes visible when
 * its transaction commits, in any order: remembering "the last seq seen" would skip a transaction
 * that took a lower seq and commits later. So the reader does not go by seq alone. Each history row
 * carries `txid`, the id of the transaction that wrote it. The horizon (HORIZON_SQL) is the lowest
 * transaction id still running that could write a row; every such transaction below it has ended,
 * committed or rolled back, so the set of rows with `txid` below it is final: no row can join it
 * later, and a rolled-back row is never in it (it was never visible). The horizon only grows.
 *
 * The reader takes the feed in windows of transaction ids [low, high), high being a horizon read
 * earlier. A window is final, so it can be paged by seq in any number of batches (`afterSeq`).
 * When a window is exhausted, the next one is [high, new horizon): every row that appears after
 * a horizon was read has a transaction id at or above it (it was running or had not started), so
 * it falls in a later window, never in one already read. A row waits at most until every
 * transaction older than its own has ended. Within a window rows go in seq order: for one resource,
 * writers are serialised by its lock, so its versions come in order.
 *
 * The position is stored in the same transaction as the events derived from the rows, so a crash
 * before that commit redoes the batch and a crash after it has lost nothing. Rows written before
 * the txid column existed (NULL) are in no window: no subscription existed then.
 */
/*
 * A page of a window walks the primary key in seq order from the position, so it costs its own rows
 * (and those of other windows interleaved with them), not the window's. `IS TRUE` keeps the planner
 * off the txid index: it estimates the newest transaction ids (beyond its statistics) at one row,
 * and then read and sorted a whole window for every page, which made matching quadratic in the
 * size of a window (a burst of 40,000 rows: 200 ms a page).
 */
const windowPageSql = (seqFrom: string) => `SELECT seq, resource_type, id, version_id, method, last_updated,
         CASE WHEN resource_type = ANY($4::text[]) THEN content::text END AS json
    FROM resource_history
   WHERE ${seqFrom} AND (txid >= $1::xid8 AND txid < $2::xid8) IS TRUE
   ORDER BY seq LIMIT $3`;

/** The rest of a window, after the stored position (`$5`). */
const WINDOW_SQL = windowPageSql('seq > $5');

/**
 * The first page of a new window, from its lowest seq (a row of a long transaction may be far
 * behind the rest), found through the txid index. `seq + 0`: a plain min(seq) is planned as a walk
 * of the primary key from the very first row of the history, filtering by txid.
 */
const NEW_WINDOW_SQL = windowPageSql('seq >= (SELECT min(seq + 0) FROM resource_history WHERE txid >= $1::xid8 AND txid < $2::xid8)');

/** The content is parsed when it is first asked for: most rows concern no subscription (AuditEvents, say). */
function toFeedRow(row: Row): FeedRow {
  let parsed: Resource | undefined;
  return {
    seq: Number(row.seq),
    resourceType: row.resource_type,
    id: row.id,
    versionId: row.version_id,
    method: row.method,
    lastUpdated: row.last_updated,
    contentOmitted: row.json === null && row.method !== 'DELETE',
    get resource() {
      if (parsed === undefined && row.json !== null) parsed = JSON.parse(row.json) as Resource;
      return parsed;
    },
  };
}

async function window(tx: Queryable, low: string, high: string, afterSeq: number, limit: number, contentTypes: readonly string[]): Promise<FeedRow[]> {
  const { rows } = await tx.query<Row>(WINDOW_SQL, [low, high, limit, contentTypes, afterSeq]);
  return rows.map(toFeedRow);
}

/**
 * The lowest transaction id that may still write a history row: the lowest of the running ones
 * (`pg_current_snapshot()`), leaving out those `pg_stat_activity` shows held by autovacuum workers
 * or by sessions of other databases, which never write this database's history. Autovacuum's
 * ANALYZE of an index table holds its transaction id while it builds the extended statistics (1.3 s
 * for search_token in bench:subscriptions), and every notification waited for it. A transaction id
 * is left out only when it is seen to be theirs: any role sees the database and transaction id of
 * every session, but a session's type only with pg_read_all_stats (or as a superuser); without it,
 * autovacuum's transactions stay in, as they always were.
 */
const HORIZON_SQL = `COALESCE(
    (SELECT min(x) FROM pg_snapshot_xip(pg_current_snapshot()) x
      WHERE x::xid NOT IN (SELECT a.backend_xid FROM pg_stat_activity a
                            WHERE a.backend_xid IS NOT NULL
                              AND (a.backend_type = 'autovacuum worker'
                                   OR a.datid IS DISTINCT FROM (SELECT oid FROM pg_database WHERE datname = current_database())))),
    pg_snapshot_xmax(pg_current_snapshot()))`;

/**
 * The statement reading a FeedStart (`toFeedStart` reads its row); `also`: more to select in the
 * same statement (the matcher's lock: the two and BEGIN are one round trip).
 */
export function feedStartSql(also?: string): string {
  return `SELECT ${also ? `${also}, ` : ''}low::text AS low, high::text AS high, after_seq,
                 ${HORIZON_SQL}::text AS horizon
            FROM subscription_feed_cursor WHERE name = 'matcher'`;
}

export function toFeedStart(row: FeedStartRow | undefined): FeedStart {
  if (!row) throw new Error('subscription_feed_cursor has no matcher row: run the migrations');
  return { stored: { low: row.low, high: row.high, afterSeq: Number(row.after_seq) }, horizon: row.horizon };
}

/** The statement storing a position, its values numbered from `$first` (a step of appendEvents's statement too). */
export function cursorUpdateSql(first: number): string {
  return `UPDATE subscription_feed_cursor SET low = $${first}::xid8, high = $${first + 1}::xid8, after_seq = $${first + 2}, updated = now() WHERE name = 'matcher'`;
}

export const cursorValues = (cursor: FeedCursor): unknown[] => [cursor.low, cursor.high, cursor.afterSeq];

export async function writeCursor(tx: Queryable, cursor: FeedCursor): Promise<void> {
  await tx.query(cursorUpdateSql(1), cursorValues(cursor));
}

/**
 * The next rows of the feed that are final, at most `limit`, in seq order: the rest of the current
 * window, else the start of the next one. Empty when nothing new is final yet. Call it inside the
 * transaction that will store the events and the position (`writeCursor(batch.next)`), with the
 * position read at its start (`start`; read here when not given). Content is read only for the
 * rows of `contentTypes` (the types some subscription concerns): most rows are the AuditEvents
 * every request writes, whose content nobody here looks at.
 *
 * The horizon may be read before the rest of the window: it only grows, and any value it had is
 * a bound below which every transaction has ended.
 */
export async function readFeed(tx: Queryable, limit: number, contentTypes: readonly string[], start?: FeedStart): Promise<FeedBatch> {
  const { stored, horizon, windowDone } = start ?? toFeedStart((await tx.query<FeedStartRow>(feedStartSql())).rows[0]);
  if (!windowDone) {
    const rest = await window(tx, stored.low, stored.high, stored.afterSeq, limit, contentTypes);
    if (rest.length > 0) return { rows: rest, next: { ...stored, afterSeq: rest[rest.length - 1].seq }, windowDone: rest.length < limit };
  }
  // An empty new window is not stored: reading it again later, with a higher horizon, is the same.
  const nothing = { rows: [], next: stored, windowDone: true };
  if (BigInt(horizon) <= BigInt(stored.high)) return nothing;
  const { rows } = await tx.query<Row>(NEW_WINDOW_SQL, [stored.high, horizon, limit, contentTypes]);
  if (rows.length === 0) return nothing;
  const fresh = rows.map(toFeedRow);
  return { rows: fresh, next: { low: stored.high, high: horizon, afterSeq: fresh[fresh.length - 1].seq }, windowDone: fresh.length < limit };
}
