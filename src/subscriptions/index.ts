import fastifyWebsocket from '@fastify/websocket';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { SearchEngine } from '../search/index.js';
import type { SmartAuth } from '../smart-auth/index.js';
import { Database, type Store, type WriteHook } from '../store/index.js';
import { storeClinicTopics } from './clinic-topics.js';
import { housekeeping } from './housekeeping.js';
import { NotificationListener } from './listener.js';
import { spacingByLoad, WorkLoop, type StepOutcome } from './loop.js';
import { Matcher } from './matcher.js';
import { RestHookDelivery } from './rest-hook-delivery.js';
import { CHANNELS } from './vocabulary.js';
import { WebsocketHub, websocketError } from './websocket.js';
import { anySubscriptionActive } from './state.js';
import { feedWakeHook, subscriptionWriteHooks } from './write-hooks.js';

export { bindingTokenParameters, MAX_EVENTS_PER_QUERY, requireReceiver, subscriptionEvents, subscriptionStatus } from './operations.js';
export { topicCanonicals } from './topic-lookup.js';
export { EXT as SUBSCRIPTION_EXTENSIONS, SIGNATURE_HEADER, TOPIC_CANONICAL_EXTENSION, WEBSOCKET_EXTENSION, WEBSOCKET_PATH } from './vocabulary.js';
export { websocketUrl } from './websocket.js';

export interface SubscriptionsOptions {
  db: Database;
  store: Store;
  search: SearchEngine;
  auth: SmartAuth;
  fhirBaseUrl: string;
  allowPrivateCallbacks: boolean;
  maxAttempts: number;
  retryBaseMs: number;
}

/**
 * Connections of the workers' own pool. Matching and delivery do not queue behind the requests for
 * the connections of the request pool: under a burst of writes, a committed change is still
 * notified promptly (the writes wait, which is what a burst costs anyway).
 */
const WORKER_POOL_SIZE = 6;
/**
 * The workers run small statements many times a second. Where the planner misjudges one (the feed's
 * page on a history whose statistics are old), a parallel plan starts worker processes for it each
 * time: 8 to 35 ms for a page of a few rows, against 0.2 ms for the same plan without them.
 */
const WORKER_SESSION = { max_parallel_workers_per_gather: 0 };
/** How often each worker looks at the tables even without a notification. */
const POLL_MS = { matcher: 500, delivery: 1000, housekeeping: 5000 } as const;
/**
 * The least time between two runs of a worker that were asked for by notifications (see WorkLoop):
 * at most this much latency, for runs that batch the writes of that time. The matcher's grows with
 * the process's load (spacingByLoad): each of its runs wakes delivery and the websocket hub too.
 */
const SPACING_MS = { matcher: { quiet: 20, busy: 50 }, delivery: 10 } as const;

/**
 * FHIR Subscriptions (classic R4 and the R5 Backport IG on R4), read from the change feed after
 * commit, never called by the write path: write hooks check Subscriptions and topics and keep
 * the subscriptions' state; a matcher turns the feed into durable, numbered events; rest-hook
 * delivery and the websocket hub send them. Every process runs all of it; PostgreSQL decides who
 * does what (advisory lock, `FOR UPDATE SKIP LOCKED`, leases).
 */
export class Subscriptions {
  private readonly listener: NotificationListener;
  private readonly workerDb: Database;
  private readonly matcher: Matcher;
  private readonly hub: WebsocketHub;
  private delivery?: RestHookDelivery;
  private loops: WorkLoop[] = [];
  private matching?: WorkLoop;
  /** Whether some subscription may be active: only then does a committed write wake the matcher. */
  private watching = false;
  /** Given to the write path once (so that a transaction runs it once, however many resources it wrote). */
  private readonly wakeMatcher = () => {
    if (this.watching) this.matching?.kick();
  };

  constructor(private readonly options: SubscriptionsOptions) {
    this.listener = new NotificationListener(options.db.connectionString);
    this.workerDb = new Database(options.db.connectionString, WORKER_POOL_SIZE, WORKER_SESSION);
    this.matcher = new Matcher(this.workerDb, options.search);
    this.hub = new WebsocketHub({ ...options, db: this.workerDb });
  }

  writeHooks(): WriteHook[] {
    const hooks = subscriptionWriteHooks({ search: this.options.search, allowPrivateCallbacks: this.options.allowPrivateCallbacks });
    return [...hooks, feedWakeHook(this.wakeMatcher)];
  }

  /**
   * A matcher run. While no subscription is active, the feed is still followed (a new subscription
   * then starts from the present, not from a backlog), but only on the poll, in full batches: under
   * a stream of writes, a run per spacing would cost more than the writes' own statements.
   */
  private async matchStep(): Promise<StepOutcome> {
    const outcome = await this.matcher.runOnce();
    return outcome === 'later' && !this.watching ? 'idle' : outcome;
  }

  /** Re-reads whether any subscription is active; a failure keeps the last answer (the matcher polls anyway). */
  private refreshWatching(): void {
    anySubscriptionActive(this.workerDb).then(
      (any) => (this.watching = any),
      () => undefined,
    );
  }

  /** The shipped topics, stored through the write path (call once the write hooks are in place). */
  storeTopics(): Promise<void> {
    return storeClinicTopics(this.options.store);
  }

  /** The websocket endpoint, on the app's root. */
  async registerRoutes(app: FastifyInstance): Promise<void> {
    await app.register(fastifyWebsocket, { options: { maxPayload: 64 * 1024 }, errorHandler: websocketError });
    await app.register(this.hub.routes);
  }

  async start(log: FastifyBaseLogger): Promise<void> {
    const { store } = this.options;
    const db = this.workerDb;
    await this.listener.start();
    const matcherSpacing = spacingByLoad(SPACING_MS.matcher.quiet, SPACING_MS.matcher.busy);
    const matching = new WorkLoop('subscription-matcher', () => this.matchStep(), POLL_MS.matcher, log, matcherSpacing);
    const delivering = new WorkLoop('subscription-delivery', () => (this.delivery as RestHookDelivery).step(), POLL_MS.delivery, log, SPACING_MS.delivery);
    this.delivery = new RestHookDelivery({
      db,
      store,
      listener: this.listener,
      fhirBaseUrl: this.options.fhirBaseUrl,
      maxAttempts: this.options.maxAttempts,
      retryBaseMs: this.options.retryBaseMs,
      allowPrivate: this.options.allowPrivateCallbacks,
      log,
      kick: () => delivering.kick(),
      scanEveryMs: POLL_MS.delivery,
    });
    const upkeep = new WorkLoop(
      'subscription-housekeeping',
      async () => {
        await housekeeping(db, store);
        this.refreshWatching();
        return 'idle';
      },
      POLL_MS.housekeeping,
      log,
    );
    this.listener.on(CHANNELS.events, (payload) => {
      this.delivery?.hint(payload);
      delivering.kick();
      this.hub.onEvents(payload);
    });
    this.listener.on(CHANNELS.subscriptions, (id) => {
      this.refreshWatching();
      matching.kick();
      this.delivery?.scanAll();
      delivering.kick();
      if (!id.startsWith('Basic/')) void this.hub.onSubscriptionChanged(id).catch(() => undefined);
    });
    this.listener.onReconnect(() => {
      this.refreshWatching();
      matching.kick();
      this.delivery?.scanAll();
      delivering.kick();
      this.hub.flushAll();
    });
    this.watching = await anySubscriptionActive(db);
    this.matching = matching;
    this.loops = [matching, delivering, upkeep];
    for (const loop of this.loops) loop.start();
    this.hub.start();
  }

  async stop(): Promise<void> {
    this.hub.stop();
    await Promise.all(this.loops.map((loop) => loop.stop()));
    await this.delivery?.stop();
    await this.listener.stop();
    await this.workerDb.close();
  }
}
