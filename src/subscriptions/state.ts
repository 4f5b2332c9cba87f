import type { Resource } from '@medplum/fhirtypes';
import type { Queryable } from '../store/index.js';
import type { StoredPolicy } from '../smart-auth/index.js';
import { cursorUpdateSql, cursorValues, writeCursor, type FeedCursor } from './feed.js';
import type { Interaction } from './topic.js';

/** The server's bookkeeping of one Subscription (table `subscription_state`). */
export interface SubscriptionState {
  id: string;
  owner: StoredPolicy | null;
  secret: string | null;
  status: string;
  channel: string;
  heartbeatSeconds: number | null;
  eventsSinceStart: number;
  deliveredThrough: number;
  handshakePending: boolean;
  attempts: number;
  lastError: string | null;
}

export interface StateRow {
  id: string;
  owner: StoredPolicy | null;
  secret: string | null;
  status: string;
  channel: string;
  heartbeat_seconds: number | null;
  events_since_start: string;
  delivered_through: string;
  handshake_pending: boolean;
  attempts: number;
  last_error: string | null;
}

export const toState = (row: StateRow): SubscriptionState => ({
  id: row.id,
  owner: row.owner,
  secret: row.secret,
  status: row.status,
  channel: row.channel,
  heartbeatSeconds: row.heartbeat_seconds,
  eventsSinceStart: Number(row.events_since_start),
  deliveredThrough: Number(row.delivered_through),
  handshakePending: row.handshake_pending,
  attempts: row.attempts,
  lastError: row.last_error,
});

const COLUMN_NAMES = [
  'id', 'owner', 'secret', 'status', 'channel', 'heartbeat_seconds', 'events_since_start', 'delivered_through',
  'handshake_pending', 'attempts', 'last_error',
];

/** The columns `toState` reads, optionally qualified by a table alias. */
export function stateColumns(alias?: string): string {
  return COLUMN_NAMES.map((name) => (alias ? `${alias}.${name}` : name)).join(', ');
}

export const STATE_COLUMNS = stateColumns();

export async function readState(db: Queryable, id: string): Promise<SubscriptionState | undefined> {
  const { rows } = await db.queryPrepared<StateRow>(`SELECT ${STATE_COLUMNS} FROM subscription_state WHERE id = $1`, [id]);
  return rows[0] && toState(rows[0]);
}

export interface StateWrite {
  id: string;
  /** Set only when the Subscription is new (created, or written again after a deletion). */
  created: boolean;
  owner: StoredPolicy | null;
  /** A string sets the secret, `null` removes it, undefined keeps it. */
  secret?: string | null;
  status: string;
  channel: string;
  heartbeatSeconds?: number;
  end?: Date;
  /** What one rest-hook notification carries (eventsPerNotification, notifiesWithFocus); unknown for a Subscription that cannot be served. */
  eventsPerNotification?: number;
  withFocus?: boolean;
  /** The subscription (re)starts: delivery continues from now, failures are forgotten. */
  restart: boolean;
  handshakePending: boolean;
}

/**
 * Mirrors a Subscription write into its state row, in the write's transaction. A subscription that
 * is new starts with no events (a re-created id forgets its old ones); one that (re)starts delivers
 * from its current event count on.
 */
export async function writeState(tx: Queryable, state: StateWrite): Promise<void> {
  if (state.created) await tx.query('DELETE FROM subscription_event WHERE subscription_id = $1', [state.id]);
  await tx.query(
    `INSERT INTO subscription_state (id, owner, secret, status, channel, heartbeat_seconds, end_at, handshake_pending, events_per_notification, with_focus)
     VALUES ($1, $2::jsonb, $3, $4, $5, $6, $7, $8, $12, $13)
     ON CONFLICT (id) DO UPDATE SET
       owner = CASE WHEN $9 THEN EXCLUDED.owner ELSE subscription_state.owner END,
       secret = CASE WHEN $10 THEN EXCLUDED.secret ELSE subscription_state.secret END,
       status = EXCLUDED.status, channel = EXCLUDED.channel, heartbeat_seconds = EXCLUDED.heartbeat_seconds,
       end_at = EXCLUDED.end_at, handshake_pending = EXCLUDED.handshake_pending,
       events_per_notification = EXCLUDED.events_per_notification, with_focus = EXCLUDED.with_focus,
       events_since_start = CASE WHEN $9 THEN 0 ELSE subscription_state.events_since_start END,
       delivered_through = CASE WHEN $9 THEN 0 WHEN $11 THEN subscription_state.events_since_start ELSE subscription_state.delivered_through END,
       attempts = CASE WHEN $9 OR $11 THEN 0 ELSE subscription_state.attempts END,
       last_error = CASE WHEN $9 OR $11 THEN NULL ELSE subscription_state.last_error END,
       next_attempt_at = CASE WHEN $9 OR $11 THEN now() ELSE subscription_state.next_attempt_at END,
       last_sent_at = CASE WHEN $9 OR $11 THEN now() ELSE subscription_state.last_sent_at END`,
    [
      state.id,
      state.owner === null ? null : JSON.stringify(state.owner),
      state.secret ?? null,
      state.status,
      state.channel,
      state.heartbeatSeconds ?? null,
      state.end ?? null,
      state.handshakePending,
      state.created,
      state.secret !== undefined,
      state.restart,
      state.eventsPerNotification ?? null,
      state.withFocus ?? null,
    ],
  );
}

/** Whether any subscription is active or about to be (its handshake pending): only then is there matching to do. */
export async function anySubscriptionActive(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM subscription_state WHERE status IN ('requested', 'active')) AS any`);
  return rows[0].any;
}

/**
 * A deleted Subscription's state and events go with it, in the delete's transaction: nothing
 * delivers or replays them any more (`$status` and `$events` answer for the Subscription, which is
 * gone), and a delivery in flight then records its progress nowhere.
 */
export async function forgetSubscription(tx: Queryable, id: string): Promise<void> {
  await tx.query('DELETE FROM subscription_event WHERE subscription_id = $1', [id]);
  await tx.query('DELETE FROM subscription_state WHERE id = $1', [id]);
}

/** One event of one subscription: a version of a resource that triggered it. */
export interface SubscriptionEvent {
  subscriptionId: string;
  eventNumber: number;
  seq: number;
  resourceType: string;
  resourceId: string;
  versionId: number;
  interaction: Interaction;
  occurred: Date;
  /** The version that triggered it, when read with its focus (`full-resource` and classic payloads); none for a deletion. */
  focus?: Resource;
}

export type NewEvent = Omit<SubscriptionEvent, 'eventNumber' | 'focus'>;

export interface EventRow {
  subscription_id: string;
  event_number: string;
  seq: string;
  resource_type: string;
  resource_id: string;
  version_id: number;
  interaction: Interaction;
  occurred: Date;
  focus: string | null;
}

export const toEvent = (row: EventRow): SubscriptionEvent => ({
  subscriptionId: row.subscription_id,
  eventNumber: Number(row.event_number),
  seq: Number(row.seq),
  resourceType: row.resource_type,
  resourceId: row.resource_id,
  versionId: row.version_id,
  interaction: row.interaction,
  occurred: row.occurred,
  ...(row.focus ? { focus: JSON.parse(row.focus) as Resource } : {}),
});

/** Notification payloads are limited to 8000 bytes; beyond, "*" wakes every reader. */
const PAYLOAD_LIMIT = 7_000;

/**
 * Appends events, numbering each subscription's in the order given, after its last number, stores
 * the feed position they were derived from, and notifies `channel` on commit with the ids of the
 * subscriptions that have new events: one statement, the matcher's last before its commit. State
 * rows are locked in id order first (an InitPlan, run before the update takes any row), so that two
 * writers of several of them cannot deadlock on one another; they stay locked until the commit (a
 * delivery can neither claim them nor record progress meanwhile).
 */
export async function appendEvents(tx: Queryable, events: NewEvent[], channel: string, position: FeedCursor): Promise<void> {
  if (events.length === 0) return writeCursor(tx, position);
  const ids = [...new Set(events.map((e) => e.subscriptionId))].sort();
  await tx.queryPrepared(
    `WITH locked AS (
       SELECT id FROM subscription_state WHERE id = ANY($10::text[]) ORDER BY id FOR UPDATE
     ), input AS (
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::int[], $6::text[], $7::timestamptz[])
         WITH ORDINALITY AS i(subscription_id, seq, resource_type, resource_id, version_id, interaction, occurred, ord)
     ), counts AS (
       SELECT subscription_id, count(*) AS n FROM input GROUP BY subscription_id
     ), bumped AS (
       UPDATE subscription_state s SET events_since_start = s.events_since_start + c.n
         FROM counts c WHERE s.id = c.subscription_id AND (SELECT count(*) FROM locked) > 0
       RETURNING s.id, s.events_since_start - c.n AS base
     ), added AS (
       INSERT INTO subscription_event (subscription_id, event_number, seq, resource_type, resource_id, version_id, interaction, occurred)
       SELECT i.subscription_id, b.base + row_number() OVER (PARTITION BY i.subscription_id ORDER BY i.ord),
              i.seq, i.resource_type, i.resource_id, i.version_id, i.interaction, i.occurred
         FROM input i JOIN bumped b ON b.id = i.subscription_id
       RETURNING subscription_id
     ), moved AS (
       ${cursorUpdateSql(11)}
     ), notified AS (
       SELECT string_agg(DISTINCT subscription_id, ',') AS list FROM added
     )
     SELECT pg_notify($8, CASE WHEN length(list) > $9 THEN '*' ELSE list END) FROM notified WHERE list IS NOT NULL`,
    [
      events.map((e) => e.subscriptionId),
      events.map((e) => e.seq),
      events.map((e) => e.resourceType),
      events.map((e) => e.resourceId),
      events.map((e) => e.versionId),
      events.map((e) => e.interaction),
      events.map((e) => e.occurred),
      channel,
      PAYLOAD_LIMIT,
      ids,
      ...cursorValues(position),
    ],
  );
}

export const EVENT_COLUMNS = 'e.subscription_id, e.event_number, e.seq, e.resource_type, e.resource_id, e.version_id, e.interaction, e.occurred, h.content::text AS focus';

/** The version an event is about, joined when `condition` holds (a deletion has none). */
export const focusJoin = (condition: string) => `LEFT JOIN resource_history h ON ${condition} AND e.interaction <> 'delete' AND h.seq = e.seq`;

/**
 * Events of one subscription with numbers in [from, to], in order, at most `limit`; `withFocus`:
 * each with the version that triggered it, as stored in the history (what matched, not what is
 * current), read in the same query.
 */
export async function readEvents(db: Queryable, id: string, from: number, to: number, limit: number, withFocus = false): Promise<SubscriptionEvent[]> {
  const { rows } = await db.queryPrepared<EventRow>(
    `SELECT ${EVENT_COLUMNS}
       FROM subscription_event e ${focusJoin('$5')}
      WHERE e.subscription_id = $1 AND e.event_number BETWEEN $2 AND $3
      ORDER BY e.event_number LIMIT $4`,
    [id, from, to, limit, withFocus],
  );
  return rows.map(toEvent);
}

/** Which events `readEventsOfMany` reads for one subscription: those numbered after `after`. */
export interface EventsWanted {
  subscriptionId: string;
  after: number;
  withFocus: boolean;
}

/**
 * For each of several subscriptions, its events numbered after `after`, in order, at most `limit`
 * each (the arrays are in the order of `wanted`): one statement for everything one notification
 * of the matcher woke, where reading per subscription took one each.
 */
export async function readEventsOfMany(db: Queryable, wanted: EventsWanted[], limit: number): Promise<SubscriptionEvent[][]> {
  const found: SubscriptionEvent[][] = wanted.map(() => []);
  if (wanted.length === 0) return found;
  const { rows } = await db.queryPrepared<EventRow & { n: string }>(
    `SELECT w.n, e.*
       FROM unnest($1::text[], $2::bigint[], $3::boolean[]) WITH ORDINALITY AS w(id, after, with_focus, n)
       CROSS JOIN LATERAL (
         SELECT ${EVENT_COLUMNS}
           FROM subscription_event e ${focusJoin('w.with_focus')}
          WHERE e.subscription_id = w.id AND e.event_number > w.after
          ORDER BY e.event_number LIMIT $4) e
      ORDER BY w.n, e.event_number`,
    [wanted.map((w) => w.subscriptionId), wanted.map((w) => w.after), wanted.map((w) => w.withFocus), limit],
  );
  for (const row of rows) found[Number(row.n) - 1].push(toEvent(row));
  return found;
}
