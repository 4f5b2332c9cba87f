import type { Database, Store } from '../store/index.js';
import { changeStatus } from './status-writes.js';

/** How long events stay available to `$events` after they were stored. */
export const EVENT_RETENTION_DAYS = 7;

/**
 * Periodic upkeep, safe in any number of processes: Subscriptions past their `end` are turned
 * `off` (through the write path); old events and expired binding tokens are removed in small batches.
 */
export async function housekeeping(db: Database, store: Store): Promise<void> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM subscription_state WHERE status IN ('requested', 'active') AND end_at < now() LIMIT 100`,
  );
  for (const { id } of rows) await changeStatus(store, id, ['requested', 'active'], 'off');
  await db.query(
    `DELETE FROM subscription_event WHERE ctid IN (
       SELECT ctid FROM subscription_event WHERE created < now() - make_interval(days => $1) LIMIT 5000)`,
    [EVENT_RETENTION_DAYS],
  );
  await db.query('DELETE FROM subscription_ws_token WHERE expires < now()');
}
