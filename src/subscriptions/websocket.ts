import type { Subscription } from '@medplum/fhirtypes';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type WebSocket from 'ws';
import type { SearchEngine } from '../search/index.js';
import { compilePolicy, grantingScopes, isUnconfined, type AccessPolicy, type SmartAuth } from '../smart-auth/index.js';
import type { Database, Store } from '../store/index.js';
import { isValidId } from '../fhir/ids.js';
import { redeemBindingToken } from './binding-tokens.js';
import { notificationBundle } from './notification.js';
import { mayReceive } from './owner.js';
import { readEventsOfMany, readState, type SubscriptionEvent } from './state.js';
import { eventsPerNotification, notifiesWithFocus, parseSubscription, type SubscriptionSpec } from './subscription-spec.js';
import { WEBSOCKET_PATH, type NotificationType } from './vocabulary.js';

export interface WebsocketHubOptions {
  db: Database;
  store: Store;
  search: SearchEngine;
  auth: SmartAuth;
  fhirBaseUrl: string;
}

interface Binding {
  spec: SubscriptionSpec;
  /** The last event number sent on this connection. */
  lastEvent: number;
  lastSentAt: number;
  heartbeat?: NodeJS.Timeout;
}

/** A binding with events to catch up on, and where it is. */
interface Stale {
  connection: Connection;
  id: string;
}

interface Connection {
  socket: WebSocket;
  /** The policy of the bearer token given on the upgrade, if any. */
  policy?: AccessPolicy;
  bindings: Map<string, Binding>;
  alive: boolean;
}

const MAX_BINDINGS_PER_CONNECTION = 100;
const EVENTS_PER_READ = 100;
const KEEPALIVE_MS = 30_000;

/** The websocket URL clients connect to, from the FHIR base URL (`http` -> `ws`, `https` -> `wss`). */
export function websocketUrl(fhirBaseUrl: string): string {
  const origin = new URL(fhirBaseUrl);
  return `${origin.protocol === 'https:' ? 'wss:' : 'ws:'}//${origin.host}${WEBSOCKET_PATH}`;
}

/** What a client sent: `bind <id>`, `bind-with-token <token>` (R4B), or the IG's / Medplum's JSON forms. */
export function parseClientMessage(text: string): { kind: 'bind'; id: string } | { kind: 'token'; token: string } | { kind: 'unbind'; id: string } | { kind: 'ping' } | undefined {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(trimmed) as Record<string, unknown>;
    } catch {
      return undefined;
    }
    const payload = (message.payload ?? {}) as Record<string, unknown>;
    const token = message.bindingToken ?? message['binding-token'] ?? message.token ?? payload.token ?? payload.bindingToken;
    if (message.type === 'bind-with-token' && typeof token === 'string') return { kind: 'token', token };
    const id = message.id ?? message.subscription ?? payload.id;
    if (message.type === 'bind' && typeof id === 'string') return { kind: 'bind', id: id.replace(/^.*Subscription\//, '') };
    if (message.type === 'unbind' && typeof id === 'string') return { kind: 'unbind', id: id.replace(/^.*Subscription\//, '') };
    if (message.type === 'ping') return { kind: 'ping' };
    return undefined;
  }
  const [command, argument, extra] = trimmed.split(/\s+/);
  if (!argument || extra !== undefined) return command === 'ping' && !argument ? { kind: 'ping' } : undefined;
  if (command === 'bind-with-token') return { kind: 'token', token: argument };
  if (command === 'bind') return { kind: 'bind', id: argument.replace(/^.*Subscription\//, '') };
  if (command === 'unbind') return { kind: 'unbind', id: argument.replace(/^.*Subscription\//, '') };
  return undefined;
}

/**
 * The websocket channel, in each process. A client binds to websocket Subscriptions (with the
 * bearer token of the upgrade, or a binding token from `$get-ws-binding-token`); from then on it
 * gets each new event of those subscriptions as the events table has it, whichever process wrote
 * the change or matched it: the matcher's notification wakes every process, each reads the durable
 * events after the last one it sent on each connection. Classic subscriptions get `bound <id>` and
 * `ping <id>`; topic-based ones a handshake, heartbeats and notification Bundles. A client that
 * was away catches up with `$events` (the handshake says how many events there are).
 */
export class WebsocketHub {
  private readonly bySubscription = new Map<string, Set<Connection>>();
  private readonly connections = new Set<Connection>();
  private readonly policies = new WeakMap<FastifyRequest, { policy: AccessPolicy; expires: number }>();
  /** Bindings that may have events to send; one catch-up at a time sends them all (see `catchUp`). */
  private readonly stale = new Map<Binding, Stale>();
  private catchingUp = false;
  private keepalive?: NodeJS.Timeout;
  private log?: FastifyBaseLogger;

  constructor(private readonly options: WebsocketHubOptions) {}

  /** The route; register @fastify/websocket on the app first. */
  routes = async (app: FastifyInstance): Promise<void> => {
    this.log = app.log;
    app.get(
      WEBSOCKET_PATH,
      {
        websocket: true,
        // The upgrade may carry a bearer token; a bad one is refused before the upgrade (401).
        preValidation: async (request, reply) => {
          const header = request.headers.authorization;
          if (!header) return;
          const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
          try {
            if (!match) throw new Error('not a bearer token');
            const claims = await this.options.auth.tokens.verify(match[1]);
            this.policies.set(request, { policy: compilePolicy(claims), expires: claims.exp * 1000 });
          } catch {
            return reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({ error: 'invalid_token' });
          }
        },
      },
      (socket: WebSocket, request: FastifyRequest) => this.accept(socket, request),
    );
  };

  start(): void {
    this.keepalive = setInterval(() => {
      for (const connection of this.connections) {
        if (!connection.alive) {
          connection.socket.terminate();
          continue;
        }
        connection.alive = false;
        connection.socket.ping();
      }
    }, KEEPALIVE_MS);
    this.keepalive.unref();
  }

  stop(): void {
    clearInterval(this.keepalive);
    for (const connection of this.connections) this.drop(connection);
  }

  private accept(socket: WebSocket, request: FastifyRequest): void {
    const auth = this.policies.get(request);
    const connection: Connection = { socket, policy: auth?.policy, bindings: new Map(), alive: true };
    this.connections.add(connection);
    if (auth) {
      // A connection authenticated by a token does not outlive the token.
      const timer = setTimeout(() => socket.close(4001, 'access token expired'), Math.max(0, auth.expires - Date.now()));
      timer.unref();
      socket.on('close', () => clearTimeout(timer));
    }
    socket.on('pong', () => (connection.alive = true));
    socket.on('close', () => this.drop(connection));
    socket.on('error', () => this.drop(connection));
    socket.on('message', (data) => {
      void this.handle(connection, data.toString()).catch((error: unknown) => {
        this.log?.error({ err: error }, 'websocket message failed');
        this.send(connection, 'error internal error');
      });
    });
  }

  private drop(connection: Connection): void {
    this.connections.delete(connection);
    for (const [id, binding] of connection.bindings) {
      clearInterval(binding.heartbeat);
      this.bySubscription.get(id)?.delete(connection);
      if (this.bySubscription.get(id)?.size === 0) this.bySubscription.delete(id);
    }
    connection.bindings.clear();
  }

  private send(connection: Connection, text: string): void {
    if (connection.socket.readyState === 1) connection.socket.send(text);
  }

  private async handle(connection: Connection, text: string): Promise<void> {
    const message = parseClientMessage(text);
    if (!message) return this.send(connection, 'error unknown message: send "bind <id>" or "bind-with-token <token>"');
    // Not echoed: it may be anything (a NUL, megabytes), and names no Subscription.
    if ((message.kind === 'bind' || message.kind === 'unbind') && !isValidId(message.id)) return this.send(connection, 'error not a Subscription id');
    switch (message.kind) {
      case 'ping':
        return this.send(connection, 'pong');
      case 'unbind': {
        const binding = connection.bindings.get(message.id);
        if (binding) {
          clearInterval(binding.heartbeat);
          connection.bindings.delete(message.id);
          this.bySubscription.get(message.id)?.delete(connection);
        }
        return this.send(connection, `unbound ${message.id}`);
      }
      case 'bind': {
        if (!connection.policy) {
          return this.send(connection, `error ${message.id} authentication required: send Authorization: Bearer on the upgrade, or use bind-with-token`);
        }
        const subscription = await this.readSubscription(message.id);
        if (!subscription || !(await this.mayRead(connection.policy, message.id))) return this.send(connection, `error ${message.id} not found`);
        if (!mayReceive(connection.policy, (await readState(this.options.db, message.id))?.owner)) {
          return this.send(connection, `error ${message.id} notifications go to the client that created the subscription`);
        }
        return this.bind(connection, subscription);
      }
      case 'token': {
        const ids = await redeemBindingToken(this.options.db, message.token);
        if (!ids) return this.send(connection, 'error invalid or expired binding token');
        for (const id of ids) {
          const subscription = await this.readSubscription(id);
          if (!subscription) this.send(connection, `error ${id} not found`);
          else await this.bind(connection, subscription);
        }
      }
    }
  }

  private async readSubscription(id: string): Promise<Subscription | undefined> {
    const current = await this.options.store.read('Subscription', id);
    return current?.json && !current.deleted ? (JSON.parse(current.json) as Subscription) : undefined;
  }

  private async mayRead(policy: AccessPolicy, id: string): Promise<boolean> {
    const scopes = grantingScopes(policy, 'Subscription', 'r');
    if (scopes.length === 0) return false;
    if (scopes.some(isUnconfined)) return true;
    return this.options.search.isVisible(this.options.db, policy, 'Subscription', id, ['r']);
  }

  private async bind(connection: Connection, subscription: Subscription): Promise<void> {
    const id = subscription.id as string;
    let spec: SubscriptionSpec;
    try {
      spec = parseSubscription(subscription);
    } catch {
      return this.send(connection, `error ${id} the subscription cannot be served`);
    }
    if (spec.channel.type !== 'websocket') return this.send(connection, `error ${id} is not a websocket subscription`);
    if (spec.status !== 'active') return this.send(connection, `error ${id} is ${spec.status}`);
    if (!connection.bindings.has(id) && connection.bindings.size >= MAX_BINDINGS_PER_CONNECTION) {
      return this.send(connection, `error ${id} too many bindings on this connection`);
    }
    const state = await readState(this.options.db, id);
    const existing = connection.bindings.get(id);
    if (existing) clearInterval(existing.heartbeat);
    const binding: Binding = { spec, lastEvent: existing?.lastEvent ?? state?.eventsSinceStart ?? 0, lastSentAt: Date.now() };
    connection.bindings.set(id, binding);
    let set = this.bySubscription.get(id);
    if (!set) this.bySubscription.set(id, (set = new Set()));
    set.add(connection);
    if (spec.flavour === 'classic') this.send(connection, `bound ${id}`);
    else this.send(connection, JSON.stringify(this.bundle(spec, 'handshake', binding.lastEvent, [])));
    if (spec.flavour === 'topic' && spec.channel.heartbeatSeconds) {
      const period = spec.channel.heartbeatSeconds * 1000;
      binding.heartbeat = setInterval(() => {
        if (Date.now() - binding.lastSentAt < period) return;
        binding.lastSentAt = Date.now();
        this.send(connection, JSON.stringify(this.bundle(binding.spec, 'heartbeat', binding.lastEvent, [])));
      }, Math.min(period, 1000));
      binding.heartbeat.unref();
    }
    // Events matched between the state read and the registration would otherwise wait for the next one.
    this.flush(connection, id);
  }

  private bundle(spec: SubscriptionSpec, type: NotificationType, eventsSinceStart: number, events: SubscriptionEvent[]) {
    return notificationBundle({
      fhirBaseUrl: this.options.fhirBaseUrl,
      subscriptionId: spec.id,
      topicUrl: spec.topicUrl,
      status: 'active',
      type,
      eventsSinceStart,
      events,
      content: spec.channel.content,
    });
  }

  /** New events were stored for these subscriptions (ids, or `*` for all bound ones). */
  onEvents(payload: string): void {
    const ids = payload === '*' ? [...this.bySubscription.keys()] : payload.split(',');
    for (const id of ids) for (const connection of this.bySubscription.get(id) ?? []) this.flush(connection, id);
  }

  /** Every binding catches up (after the listener reconnected: notifications may have been missed). */
  flushAll(): void {
    this.onEvents('*');
  }

  /** A Subscription changed: bindings follow its new content; one no longer active is dropped. */
  async onSubscriptionChanged(id: string): Promise<void> {
    const connections = this.bySubscription.get(id);
    if (!connections?.size) return;
    const subscription = await this.readSubscription(id);
    let spec: SubscriptionSpec | undefined;
    try {
      spec = subscription && parseSubscription(subscription);
    } catch {
      spec = undefined;
    }
    for (const connection of connections) {
      const binding = connection.bindings.get(id);
      if (!binding) continue;
      if (spec && spec.status === 'active' && spec.channel.type === 'websocket') {
        binding.spec = spec;
        continue;
      }
      clearInterval(binding.heartbeat);
      connection.bindings.delete(id);
      connections.delete(connection);
      this.send(connection, `error ${id} is ${spec?.status ?? 'deleted'}`);
    }
  }

  private flush(connection: Connection, id: string): void {
    const binding = connection.bindings.get(id);
    if (!binding) return;
    this.stale.set(binding, { connection, id });
    if (this.catchingUp) return;
    // Started after the caller's loop: one notification's bindings are read in one round, not two.
    this.catchingUp = true;
    queueMicrotask(() => void this.catchUp());
  }

  /**
   * Sends the new events of every stale binding, reading them in one statement per round, until no
   * binding is stale. One round at a time: each binding's events go out in event-number order.
   */
  private async catchUp(): Promise<void> {
    try {
      while (this.stale.size > 0) {
        const round = [...this.stale].filter(([binding, { connection, id }]) => this.isCurrent(connection, id, binding));
        this.stale.clear();
        try {
          await this.sendNewEvents(round);
        } catch (error) {
          this.log?.error({ err: error, subscriptions: round.map(([, { id }]) => id) }, 'websocket delivery failed');
        }
      }
    } finally {
      this.catchingUp = false;
    }
  }

  private isCurrent(connection: Connection, id: string, binding: Binding): boolean {
    return connection.bindings.get(id) === binding && connection.socket.readyState === 1;
  }

  private async sendNewEvents(round: [Binding, Stale][]): Promise<void> {
    const wanted = round.map(([binding, { id }]) => ({
      subscriptionId: id,
      after: binding.lastEvent,
      // A classic subscription's websocket notification is a ping: no versions.
      withFocus: binding.spec.flavour === 'topic' && notifiesWithFocus(binding.spec),
    }));
    const found = await readEventsOfMany(this.options.db, wanted, EVENTS_PER_READ);
    round.forEach(([binding, stale], i) => {
      const events = found[i];
      // Unbound or closed during the read: nothing of it is sent.
      if (events.length === 0 || !this.isCurrent(stale.connection, stale.id, binding)) return;
      this.sendEvents(stale.connection, binding, events);
      if (events.length === EVENTS_PER_READ) this.stale.set(binding, stale);
    });
  }

  private sendEvents(connection: Connection, binding: Binding, events: SubscriptionEvent[]): void {
    const { spec } = binding;
    if (spec.flavour === 'classic') {
      for (const event of events) {
        this.send(connection, `ping ${spec.id}`);
        binding.lastEvent = event.eventNumber;
      }
    } else {
      const perNotification = eventsPerNotification(spec);
      for (let i = 0; i < events.length; i += perNotification) {
        const group = events.slice(i, i + perNotification);
        const last = group[group.length - 1].eventNumber;
        this.send(connection, JSON.stringify(this.bundle(spec, 'event-notification', last, group)));
        binding.lastEvent = last;
      }
    }
    binding.lastSentAt = Date.now();
  }
}

/**
 * An error on an open websocket. What a client does wrong (a message over the size limit, a
 * malformed frame, a dropped connection) is the client's problem: noted at `info`, not logged as
 * a server error. The socket is closed either way.
 */
export function websocketError(error: Error & { code?: string }, socket: WebSocket, request: FastifyRequest): void {
  const byClient = error.code?.startsWith('WS_ERR_') || error.code === 'ECONNRESET' || error.code === 'EPIPE';
  if (byClient) request.log.info({ err: error }, 'websocket closed: the client broke the protocol or the connection');
  else request.log.error({ err: error }, 'websocket failed');
  socket.terminate();
}
