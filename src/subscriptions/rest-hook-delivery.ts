import type { Subscription } from '@medplum/fhirtypes';
import type { FastifyBaseLogger } from 'fastify';
import type { Database, Store } from '../store/index.js';
import type { BackendIdentity, NotificationListener } from './listener.js';
import { type StepOutcome } from './loop.js';
import { notificationBundle } from './notification.js';
import { MAX_IN_FLIGHT, postNotification, type RestHookResult } from './rest-hook-client.js';
import { EVENT_COLUMNS, focusJoin, readEvents, stateColumns, toEvent, toState, type EventRow, type StateRow, type SubscriptionEvent, type SubscriptionState } from './state.js';
import { CallBatcher } from './call-batcher.js';
import { changeStatus } from './status-writes.js';
import { eventsPerNotification, MAX_TIMEOUT_SECONDS, notifiesWithFocus, parseSubscription, type SubscriptionSpec } from './subscription-spec.js';
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
  kick(): void;
  /** How often a step looks at every rest-hook subscription's state, not only those named by notifications. */
  scanEveryMs: number;
}

/** A lease outlives the longest request; a crashed holder's lease is freed as soon as its database session ends. */
const LEASE_SECONDS = MAX_TIMEOUT_SECONDS + 30;
/** Notifications sent per claim before the subscription is released for others' turn. */
const ROUNDS_PER_CLAIM = 20;

interface LeasedState extends SubscriptionState {
  heartbeatDue: boolean;
  /** The lease ended with the last update: nothing was left to send. */
  released: boolean;
}

type LeasedRow = StateRow & { heartbeat_due: boolean; released: boolean };
const toLeased = (row: LeasedRow): LeasedState => ({ ...toState(row), heartbeatDue: row.heartbeat_due === true, released: row.released === true });

const leasedColumns = (alias: string) => `${stateColumns(alias)},
  (${alias}.heartbeat_seconds IS NOT NULL AND ${alias}.last_sent_at + make_interval(secs => ${alias}.heartbeat_seconds) <= now()) AS heartbeat_due,
  ${alias}.lease_pid IS NULL AS released`;

/**
 * A claimed subscription's state, with the version of its Subscription current at the claim (null
 * once deleted), and its next events as its first notification carries them, read with the claim
 * (none when its state row predates migration 21: they are read on their own).
 */
type ClaimedState = LeasedState & { subscriptionVersion: number | null; nextEvents: SubscriptionEvent[] };

/** What a delivery that succeeded records (see `succeeded`). */
interface Progress {
  id: string;
  identity: BackendIdentity;
  deliveredThrough: number | undefined;
  releaseWhenDone: boolean;
}

/** How long a delivery's progress waits for others' to be stored with it. */
const PROGRESS_WINDOW_MS = 2;

/** Parsed Subscriptions kept at most (by id, each for the version it was parsed from). */
const SPEC_CACHE_SIZE = 10_000;

/**
 * Rest-hook delivery. Any process claims subscriptions with work due (events not yet delivered, a
 * handshake, a heartbeat) with `FOR UPDATE SKIP LOCKED` and a lease naming its database session, so
 * each notification goes out from one process at a time, in event-number order per subscription.
 * The HTTP request runs with no transaction open; the progress (`delivered_through`) is stored after
 * the endpoint accepted, so a crash in between sends it again (at least once). A failure is retried
 * with exponential back-off; after `maxAttempts` failures the Subscription's status becomes `error`.
 * Claims look at the subscriptions the matcher's notifications name; all of them only now and then
 * (see `nextScope`): the tables stay the record, and a missed notification costs latency only.
 */
export class RestHookDelivery {
  private readonly inFlight = new Set<string>();
  private readonly specs = new Map<string, { version: number; spec: SubscriptionSpec | undefined }>();
  private readonly running = new Set<Promise<void>>();
  private stopping = false;
  /** Subscriptions the matcher's notifications named as having new events, not yet looked at (see `hint`). */
  private readonly hinted = new Set<string>();
  /** Whether the next step looks at every subscription (see `scanAll`). */
  private scanDue = true;
  private lastScan = 0;
  private readonly progress = new CallBatcher((records: Progress[]) => this.recordProgress(records), PROGRESS_WINDOW_MS);

  constructor(private readonly options: DeliveryOptions) {}

  /**
   * The matcher's notification: the ids of the subscriptions that have new events, or "*" when
   * there were too many to list. The next step claims those by primary key.
   */
  hint(payload: string): void {
    if (payload === '*' || payload === '') this.scanDue = true;
    else for (const id of payload.split(',')) this.hinted.add(id);
  }

  /** Has the next step look at every subscription's state: for work no event names (a handshake, a retry due, a notification missed). */
  scanAll(): void {
    this.scanDue = true;
  }

  async step(): Promise<StepOutcome> {
    const identity = this.options.listener.identity;
    const free = MAX_IN_FLIGHT - this.inFlight.size;
    if (!identity || free <= 0 || this.stopping) return 'idle';
    const scope = this.nextScope();
    if (scope !== 'all' && scope.length === 0) return 'idle';
    const claimed = await this.claim(identity, free, scope);
    // As many claimed as there was room for: more may be due, so the next step looks at all.
    if (claimed.length >= free) this.scanDue = true;
    for (const state of claimed) {
      this.inFlight.add(state.id);
      const delivery: Promise<void> = this.deliver(state, identity)
        .catch((error: unknown) => {
          if (!this.stopping) this.options.log.error({ err: error, subscription: state.id }, 'rest-hook delivery failed');
        })
        .finally(() => {
          this.inFlight.delete(state.id);
          this.running.delete(delivery);
          // Named again while in flight: events came that its last update may not have seen.
          if (this.hinted.has(state.id) || this.scanDue) this.options.kick();
        });
      this.running.add(delivery);
    }
    return 'idle';
  }

  /**
   * What this step claims from: every subscription (on the poll, or when asked), else the hinted
   * ones not in flight. Those in flight stay hinted: their delivery's end asks for another step.
   */
  private nextScope(): 'all' | string[] {
    const scan = this.scanDue || Date.now() - this.lastScan >= this.options.scanEveryMs;
    const ids = [...this.hinted].filter((id) => !this.inFlight.has(id));
    for (const id of ids) this.hinted.delete(id);
    if (!scan) return ids;
    this.scanDue = false;
    this.lastScan = Date.now();
    return 'all';
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

  /**
   * Claims from `scope`: the named subscriptions (by primary key), or every rest-hook one with work
   * (subscription_state_due_idx). Each active subscription's next events come in the same
   * statement, as many as its first notification carries, one row each (a claim without events: one
   * row without them). They are read in the statement's snapshot: an event the matcher committed
   * meanwhile may be counted in the state and not be among them; the next round reads it.
   */
  private async claim(identity: BackendIdentity, limit: number, scope: 'all' | string[]): Promise<ClaimedState[]> {
    const { rows } = await this.options.db.queryPrepared<LeasedRow & { subscription_version: number | null } & Partial<EventRow>>(
      `WITH due AS (
         SELECT s.id FROM subscription_state s
          WHERE s.channel = 'rest-hook' AND s.status IN ('requested', 'active')${scope === 'all' ? '' : ' AND s.id = ANY($6::text[])'}
            AND s.next_attempt_at <= now()
            AND NOT (s.id = ANY($1::text[]))
            AND (s.lease_until IS NULL OR s.lease_until < now()
                 OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = s.lease_pid AND a.backend_start = s.lease_backend_start))
            AND (s.handshake_pending OR s.delivered_through < s.events_since_start
                 OR (s.status = 'active' AND s.heartbeat_seconds IS NOT NULL AND s.last_sent_at + make_interval(secs => s.heartbeat_seconds) <= now()))
          ORDER BY s.next_attempt_at
          LIMIT $2
          FOR UPDATE SKIP LOCKED
       ), claimed AS (
         UPDATE subscription_state s SET lease_until = now() + make_interval(secs => $3), lease_pid = $4, lease_backend_start = $5
           FROM due WHERE s.id = due.id
         RETURNING ${leasedColumns('s')}, s.events_per_notification, s.with_focus,
           (SELECT r.version_id FROM resource r WHERE r.resource_type = 'Subscription' AND r.id = s.id AND NOT r.deleted) AS subscription_version
       )
       SELECT c.*, n.* FROM claimed c
         LEFT JOIN LATERAL (
           SELECT ${EVENT_COLUMNS} FROM subscription_event e ${focusJoin('c.with_focus')}
            WHERE c.status = 'active' AND e.subscription_id = c.id AND e.event_number > c.delivered_through
            ORDER BY e.event_number LIMIT coalesce(c.events_per_notification, 0)
         ) n ON true
        ORDER BY c.id, n.event_number`,
      [[...this.inFlight], limit, LEASE_SECONDS, identity.pid, identity.backendStart, ...(scope === 'all' ? [] : [scope])],
    );
    const claimed = new Map<string, ClaimedState>();
    for (const row of rows) {
      let state = claimed.get(row.id);
      if (!state) claimed.set(row.id, (state = { ...toLeased(row), subscriptionVersion: row.subscription_version, nextEvents: [] }));
      if (row.event_number !== null && row.event_number !== undefined) state.nextEvents.push(toEvent(row as EventRow));
    }
    return [...claimed.values()];
  }

  /** The state again, only while the lease is still ours. */
  private async reread(id: string, identity: BackendIdentity): Promise<LeasedState | undefined> {
    const { rows } = await this.options.db.queryPrepared<LeasedRow>(
      `SELECT ${leasedColumns('s')} FROM subscription_state s WHERE s.id = $1 AND s.lease_pid = $2 AND s.lease_backend_start = $3`,
      [id, identity.pid, identity.backendStart],
    );
    return rows[0] && toLeased(rows[0]);
  }

  private async deliver(claimed: ClaimedState, identity: BackendIdentity): Promise<void> {
    let state: LeasedState | undefined = claimed;
    let spec: SubscriptionSpec | undefined;
    try {
      for (let round = 0; state && round < ROUNDS_PER_CLAIM && !this.stopping; round++) {
        if (state.released || !hasWork(state)) return;
        spec ??= await this.specOf(state.id, claimed.subscriptionVersion);
        if (!spec) return;
        if (state.status === 'requested' && state.handshakePending) {
          const result = await this.send(spec, state, 'handshake', []);
          if (!result.ok) return await this.failed(state, identity, result);
          await this.succeeded(state.id, identity, undefined, false);
          await changeStatus(this.options.store, state.id, ['requested'], 'active');
          state = await this.reread(state.id, identity);
        } else if (state.status !== 'active') {
          return;
        } else if (state.deliveredThrough < state.eventsSinceStart) {
          const events = round === 0 && claimed.nextEvents.length > 0 ? claimed.nextEvents : await this.nextEvents(spec, state);
          // Events removed by retention are skipped.
          const through = events.length ? events[events.length - 1].eventNumber : state.eventsSinceStart;
          if (events.length) {
            const result = await this.send(spec, state, 'event-notification', events);
            if (!result.ok) return await this.failed(state, identity, result);
          }
          state = await this.succeeded(state.id, identity, through, true);
        } else if (state.heartbeatDue && spec.flavour === 'topic') {
          const result = await this.send(spec, state, 'heartbeat', []);
          if (!result.ok) return await this.failed(state, identity, result);
          state = await this.succeeded(state.id, identity, undefined, true);
        } else {
          return;
        }
      }
      // Its turn ended with work left (or the process is stopping): claimed again by name, not on the next poll.
      if (state && !state.released && hasWork(state)) this.hinted.add(claimed.id);
    } finally {
      if (!state?.released) await this.releaseLease(claimed.id, identity);
    }
  }

  /** The events the next notification carries. */
  private nextEvents(spec: SubscriptionSpec, state: LeasedState): Promise<SubscriptionEvent[]> {
    return readEvents(this.options.db, state.id, state.deliveredThrough + 1, state.eventsSinceStart, eventsPerNotification(spec), notifiesWithFocus(spec));
  }

  private async releaseLease(id: string, identity: BackendIdentity): Promise<void> {
    await this.options.db
      .queryPrepared('UPDATE subscription_state SET lease_until = NULL, lease_pid = NULL, lease_backend_start = NULL WHERE id = $1 AND lease_pid = $2 AND lease_backend_start = $3', [
        id,
        identity.pid,
        identity.backendStart,
      ])
      .catch(() => undefined);
  }

  /** The Subscription as parsed from its version current at the claim; read only when that version was not parsed before. */
  private async specOf(id: string, version: number | null): Promise<SubscriptionSpec | undefined> {
    const cached = this.specs.get(id);
    if (cached && version !== null && cached.version === version) return cached.spec;
    const current = await this.options.store.read('Subscription', id);
    if (!current?.json || current.deleted) return undefined;
    let spec: SubscriptionSpec | undefined;
    try {
      spec = parseSubscription(JSON.parse(current.json) as Subscription);
    } catch {
      spec = undefined;
    }
    if (this.specs.size >= SPEC_CACHE_SIZE) this.specs.clear();
    this.specs.set(id, { version: current.versionId, spec });
    return spec;
  }

  private async send(spec: SubscriptionSpec, state: SubscriptionState, type: NotificationType, events: SubscriptionEvent[]): Promise<RestHookResult> {
    const { channel } = spec;
    let body: string | undefined;
    let contentType: string | undefined;
    if (spec.flavour === 'classic') {
      // Classic R4: no body without a payload type; else the version that matched.
      if (channel.payload && events.length) {
        const resource = events[0].focus;
        body = resource ? JSON.stringify(resource) : undefined;
        contentType = channel.payload;
      }
    } else {
      const bundle = notificationBundle({
        fhirBaseUrl: this.options.fhirBaseUrl,
        subscriptionId: spec.id,
        topicUrl: spec.topicUrl,
        status: type === 'handshake' ? 'requested' : 'active',
        type,
        eventsSinceStart: events.length ? events[events.length - 1].eventNumber : state.eventsSinceStart,
        events,
        content: channel.content,
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

  /**
   * Stores the progress and renews the lease; the state as it is then, while the lease is still
   * ours (one round trip, not two). `releaseWhenDone`: when every event is then delivered, the
   * lease ends in the same statement (one more saved); events the matcher appends later wake a claim.
   * Deliveries that end together (those of one claim mostly do) record theirs in one statement.
   */
  private succeeded(id: string, identity: BackendIdentity, deliveredThrough: number | undefined, releaseWhenDone: boolean): Promise<LeasedState | undefined> {
    return this.progress.call({ id, identity, deliveredThrough, releaseWhenDone });
  }

  /**
   * One statement for several deliveries' progress. Their rows are locked in id order first (an
   * InitPlan, run before the update takes any row), as the matcher locks them: the two cannot
   * deadlock on one another.
   */
  private async recordProgress(records: Progress[]): Promise<(LeasedState | undefined)[]> {
    const done = `p.release_when_done AND GREATEST(s.delivered_through, COALESCE(p.through, s.delivered_through)) >= s.events_since_start`;
    const { rows } = await this.options.db.queryPrepared<LeasedRow>(
      `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::boolean[], $4::int[], $5::timestamptz[]) AS p(id, through, release_when_done, pid, backend_start)
       ), locked AS (
         SELECT s.id FROM subscription_state s JOIN input p ON p.id = s.id ORDER BY s.id FOR UPDATE OF s
       )
       UPDATE subscription_state s SET delivered_through = GREATEST(s.delivered_through, COALESCE(p.through, s.delivered_through)),
              attempts = 0, last_error = NULL, last_sent_at = now(), handshake_pending = CASE WHEN p.through IS NULL THEN false ELSE s.handshake_pending END,
              lease_until = CASE WHEN ${done} THEN NULL ELSE now() + make_interval(secs => $6) END,
              lease_pid = CASE WHEN ${done} THEN NULL ELSE s.lease_pid END,
              lease_backend_start = CASE WHEN ${done} THEN NULL ELSE s.lease_backend_start END
         FROM input p
        WHERE s.id = p.id AND s.lease_pid = p.pid AND s.lease_backend_start = p.backend_start AND (SELECT count(*) FROM locked) > 0
        RETURNING ${leasedColumns('s')}`,
      [
        records.map((r) => r.id),
        records.map((r) => r.deliveredThrough ?? null),
        records.map((r) => r.releaseWhenDone),
        records.map((r) => r.identity.pid),
        records.map((r) => r.identity.backendStart),
        LEASE_SECONDS,
      ],
    );
    const byId = new Map(rows.map((row) => [row.id, toLeased(row)]));
    return records.map((r) => byId.get(r.id));
  }

  private async failed(state: SubscriptionState, identity: BackendIdentity, result: RestHookResult): Promise<void> {
    const attempts = state.attempts + 1;
    const reason = result.error ?? `the endpoint answered ${result.status}`;
    const exhausted = attempts >= this.options.maxAttempts;
    const delay = exhausted ? 0 : this.options.retryBaseMs * 2 ** (attempts - 1);
    await this.options.db.queryPrepared(
      `UPDATE subscription_state SET attempts = $4, last_error = $5, next_attempt_at = now() + make_interval(secs => $6)
        WHERE id = $1 AND lease_pid = $2 AND lease_backend_start = $3`,
      [state.id, identity.pid, identity.backendStart, attempts, reason, delay / 1000],
    );
    if (exhausted) {
      const error = `Delivery failed ${attempts} times; last: ${reason}`;
      await changeStatus(this.options.store, state.id, ['requested', 'active'], 'error', error);
      this.options.log.warn({ subscription: state.id, error }, 'subscription set to error');
    } else {
      setTimeout(() => {
        this.scanDue = true;
        this.options.kick();
      }, delay + 5).unref();
    }
  }
}

/** Whether a subscription's state asks for a send: its handshake, events not yet delivered, or a heartbeat. */
function hasWork(state: LeasedState): boolean {
  if (state.status === 'requested') return state.handshakePending;
  return state.status === 'active' && (state.deliveredThrough < state.eventsSinceStart || state.heartbeatDue);
}
