import type { Resource, Subscription } from '@medplum/fhirtypes';
import type { FastifyBaseLogger } from 'fastify';
import type { Database, Store } from '../store/index.js';
import type { BackendIdentity, NotificationListener } from './listener.js';
import { type StepOutcome } from './loop.js';
import { focusKey, loadFocus, notificationBundle } from './notification.js';
import { postNotification, type RestHookResult } from './rest-hook-client.js';
import { readEvents, stateColumns, toState, type StateRow, type SubscriptionEvent, type SubscriptionState } from './state.js';
import { changeStatus } from './status-writes.js';
import { MAX_TIMEOUT_SECONDS, parseSubscription, type SubscriptionSpec } from './subscription-spec.js';
import type { NotificationType } from './vocabulary.js';

export interface DeliveryOptions {
  db: Database;
  store: Store;
  listener: NotificationListener;
  fhirBaseUrl: string;
  maxAttempts: number;
  retryBaseMs: number;
  allowPrivate: boolean;
  log: FastifyBaseLogger;
  /** Asks for another step (after a delivery ends, or when a retry falls due). */
  kick(delayMs?: number): void;
}

/** Subscriptions one process delivers to at the same time; a slow endpoint holds one of these, never a database connection. */
export const MAX_IN_FLIGHT = 64;
/** A lease outlives the longest request; a crashed holder's lease is freed as soon as its database session ends. */
const LEASE_SECONDS = MAX_TIMEOUT_SECONDS + 30;
/** Notifications sent per claim before the subscription is released for others' turn. */
const ROUNDS_PER_CLAIM = 20;

interface LeasedState extends SubscriptionState {
  heartbeatDue: boolean;
}

type LeasedRow = StateRow & { heartbeat_due: boolean };
const toLeased = (row: LeasedRow): LeasedState => ({ ...toState(row), heartbeatDue: row.heartbeat_due === true });

const leasedColumns = (alias: string) => `${stateColumns(alias)},
  (${alias}.heartbeat_seconds IS NOT NULL AND ${alias}.last_sent_at + make_interval(secs => ${alias}.heartbeat_seconds) <= now()) AS heartbeat_due`;

/**
 * Rest-hook delivery. Any process claims subscriptions with work due (events not yet delivered, a
 * handshake, a heartbeat) with `FOR UPDATE SKIP LOCKED` and a lease naming its database session, so
 * each notification goes out from one process at a time, in event-number order per subscription.
 * The HTTP request runs with no transaction open; the progress (`delivered_through`) is stored after
 * the endpoint accepted, so a crash in between sends it again (at least once). A failure is retried
 * with exponential back-off; after `maxAttempts` failures the Subscription's status becomes `error`.
 */
export class RestHookDelivery {
  private readonly inFlight = new Set<string>();
  private readonly running = new Set<Promise<void>>();
  private stopping = false;

  constructor(private readonly options: DeliveryOptions) {}

  async step(): Promise<StepOutcome> {
    const identity = this.options.listener.identity;
    const free = MAX_IN_FLIGHT - this.inFlight.size;
    if (!identity || free <= 0 || this.stopping) return 'idle';
    const claimed = await this.claim(identity, free);
    for (const state of claimed) {
      this.inFlight.add(state.id);
      const delivery: Promise<void> = this.deliver(state, identity)
        .catch((error: unknown) => {
          if (!this.stopping) this.options.log.error({ err: error, subscription: state.id }, 'rest-hook delivery failed');
        })
        .finally(() => {
          this.inFlight.delete(state.id);
          this.running.delete(delivery);
          this.options.kick();
        });
      this.running.add(delivery);
    }
    return 'idle';
  }

  /**
   * Stops claiming and waits a little for the deliveries in flight; one still waiting on its
   * endpoint is left to its lease (another process, or this one restarted, sends it again).
   */
  async stop(waitMs = 2000): Promise<void> {
    this.stopping = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.running), new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
  }

  private async claim(identity: BackendIdentity, limit: number): Promise<LeasedState[]> {
    const { rows } = await this.options.db.query<LeasedRow>(
      `WITH due AS (
         SELECT s.id FROM subscription_state s
          WHERE s.channel = 'rest-hook' AND s.status IN ('requested', 'active')
            AND s.next_attempt_at <= now()
            AND NOT (s.id = ANY($1::text[]))
            AND (s.lease_until IS NULL OR s.lease_until < now()
                 OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = s.lease_pid AND a.backend_start = s.lease_backend_start))
            AND (s.handshake_pending OR s.delivered_through < s.events_since_start
                 OR (s.status = 'active' AND s.heartbeat_seconds IS NOT NULL AND s.last_sent_at + make_interval(secs => s.heartbeat_seconds) <= now()))
          ORDER BY s.next_attempt_at
          LIMIT $2
          FOR UPDATE SKIP LOCKED
       )
       UPDATE subscription_state s SET lease_until = now() + make_interval(secs => $3), lease_pid = $4, lease_backend_start = $5
         FROM due WHERE s.id = due.id
       RETURNING ${leasedColumns('s')}`,
      [[...this.inFlight], limit, LEASE_SECONDS, identity.pid, identity.backendStart],
    );
    return rows.map(toLeased);
  }

  /** The state again, only while the lease is still ours. */
  private async reread(id: string, identity: BackendIdentity): Promise<LeasedState | undefined> {
    const { rows } = await this.options.db.query<LeasedRow>(
      `SELECT ${leasedColumns('s')} FROM subscription_state s WHERE s.id = $1 AND s.lease_pid = $2 AND s.lease_backend_start = $3`,
      [id, identity.pid, identity.backendStart],
    );
    return rows[0] && toLeased(rows[0]);
  }

  private async deliver(claimed: LeasedState, identity: BackendIdentity): Promise<void> {
    let state: LeasedState | undefined = claimed;
    // Read once per claim, and only when there is something to send: two queries less per event.
    let spec: SubscriptionSpec | undefined;
    try {
      for (let round = 0; state && round < ROUNDS_PER_CLAIM && !this.stopping; round++) {
        if (!hasWork(state)) return;
        spec ??= await this.readSpec(state.id);
        if (!spec) return;
        if (state.status === 'requested' && state.handshakePending) {
          const result = await this.send(spec, state, 'handshake', []);
          if (!result.ok) return await this.failed(state, identity, result);
          await this.succeeded(state.id, identity, undefined);
          await changeStatus(this.options.store, state.id, ['requested'], 'active');
          state = await this.reread(state.id, identity);
        } else if (state.status !== 'active') {
          return;
        } else if (state.deliveredThrough < state.eventsSinceStart) {
          const limit = spec.flavour === 'classic' ? 1 : spec.channel.maxCount;
          const events = await readEvents(this.options.db, state.id, state.deliveredThrough + 1, state.eventsSinceStart, limit);
          // Events removed by retention are skipped.
          const through = events.length ? events[events.length - 1].eventNumber : state.eventsSinceStart;
          if (events.length) {
            const result = await this.send(spec, state, 'event-notification', events);
            if (!result.ok) return await this.failed(state, identity, result);
          }
          state = await this.succeeded(state.id, identity, through);
        } else if (state.heartbeatDue && spec.flavour === 'topic') {
          const result = await this.send(spec, state, 'heartbeat', []);
          if (!result.ok) return await this.failed(state, identity, result);
          state = await this.succeeded(state.id, identity, undefined);
        } else {
          return;
        }
      }
    } finally {
      await this.options.db
        .query('UPDATE subscription_state SET lease_until = NULL, lease_pid = NULL, lease_backend_start = NULL WHERE id = $1 AND lease_pid = $2 AND lease_backend_start = $3', [
          claimed.id,
          identity.pid,
          identity.backendStart,
        ])
        .catch(() => undefined);
    }
  }

  private async readSpec(id: string): Promise<SubscriptionSpec | undefined> {
    const current = await this.options.store.read('Subscription', id);
    if (!current?.json || current.deleted) return undefined;
    try {
      return parseSubscription(JSON.parse(current.json) as Subscription);
    } catch {
      return undefined;
    }
  }

  private async send(spec: SubscriptionSpec, state: SubscriptionState, type: NotificationType, events: SubscriptionEvent[]): Promise<RestHookResult> {
    const { channel } = spec;
    let body: string | undefined;
    let contentType: string | undefined;
    if (spec.flavour === 'classic') {
      // Classic R4: no body without a payload type; else the version that matched.
      if (channel.payload && events.length) {
        const resources = await loadFocus(this.options.db, events);
        const resource = resources.get(focusKey(events[0])) as Resource | undefined;
        body = resource ? JSON.stringify(resource) : undefined;
        contentType = channel.payload;
      }
    } else {
      const resources = channel.content === 'full-resource' ? await loadFocus(this.options.db, events) : undefined;
      const bundle = notificationBundle({
        fhirBaseUrl: this.options.fhirBaseUrl,
        subscriptionId: spec.id,
        topicUrl: spec.topicUrl,
        status: type === 'handshake' ? 'requested' : 'active',
        type,
        eventsSinceStart: events.length ? events[events.length - 1].eventNumber : state.eventsSinceStart,
        events,
        content: channel.content,
        resources,
      });
      body = JSON.stringify(bundle);
      contentType = channel.payload ?? 'application/fhir+json';
    }
    return postNotification({
      endpoint: channel.endpoint as string,
      headers: channel.headers,
      body,
      contentType,
      secret: state.secret ?? undefined,
      timeoutMs: channel.timeoutSeconds * 1000,
      allowPrivate: this.options.allowPrivate,
    });
  }

  /** Stores the progress and renews the lease; the state as it is then, while the lease is still ours (one round trip, not two). */
  private async succeeded(id: string, identity: BackendIdentity, deliveredThrough: number | undefined): Promise<LeasedState | undefined> {
    const { rows } = await this.options.db.query<LeasedRow>(
      `UPDATE subscription_state s SET delivered_through = GREATEST(s.delivered_through, COALESCE($4, s.delivered_through)),
              attempts = 0, last_error = NULL, last_sent_at = now(), handshake_pending = CASE WHEN $4 IS NULL THEN false ELSE s.handshake_pending END,
              lease_until = now() + make_interval(secs => $5)
        WHERE s.id = $1 AND s.lease_pid = $2 AND s.lease_backend_start = $3
        RETURNING ${leasedColumns('s')}`,
      [id, identity.pid, identity.backendStart, deliveredThrough ?? null, LEASE_SECONDS],
    );
    return rows[0] && toLeased(rows[0]);
  }

  private async failed(state: SubscriptionState, identity: BackendIdentity, result: RestHookResult): Promise<void> {
    const attempts = state.attempts + 1;
    const reason = result.error ?? `the endpoint answered ${result.status}`;
    const exhausted = attempts >= this.options.maxAttempts;
    const delay = exhausted ? 0 : this.options.retryBaseMs * 2 ** (attempts - 1);
    await this.options.db.query(
      `UPDATE subscription_state SET attempts = $4, last_error = $5, next_attempt_at = now() + make_interval(secs => $6)
        WHERE id = $1 AND lease_pid = $2 AND lease_backend_start = $3`,
      [state.id, identity.pid, identity.backendStart, attempts, reason, delay / 1000],
    );
    if (exhausted) {
      const error = `Delivery failed ${attempts} times; last: ${reason}`;
      await changeStatus(this.options.store, state.id, ['requested', 'active'], 'error', error);
      this.options.log.warn({ subscription: state.id, error }, 'subscription set to error');
    } else {
      this.options.kick(delay + 5);
    }
  }
}

/** Whether a subscription's state asks for a send: its handshake, events not yet delivered, or a heartbeat. */
function hasWork(state: LeasedState): boolean {
  if (state.status === 'requested') return state.handshakePending;
  return state.status === 'active' && (state.deliveredThrough < state.eventsSinceStart || state.heartbeatDue);
}
