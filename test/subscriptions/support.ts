import http from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';

/** One request the receiver got. */
export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read FHIR JSON freely
  json?: any;
}

/**
 * A real HTTP endpoint on 127.0.0.1 for rest-hooks: it records every request and answers with the
 * status `respond` gives (200 by default); `down()` stops accepting connections, `up()` resumes.
 */
export class Receiver {
  readonly received: Received[] = [];
  respond: (request: Received) => number = () => 200;
  private server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = body ? JSON.parse(body) : undefined;
      } catch {
        json = undefined;
      }
      const entry: Received = { method: request.method ?? '', url: request.url ?? '', headers: request.headers, body, at: Date.now(), json };
      const status = this.respond(entry);
      if (status >= 200 && status < 300) this.received.push(entry);
      else this.failures.push(entry);
      response.writeHead(status).end();
      for (const waiter of [...this.waiters]) waiter();
    });
  });
  readonly failures: Received[] = [];
  private waiters = new Set<() => void>();
  port = 0;

  async start(port = 0): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async down(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async up(): Promise<void> {
    this.server = http.createServer(this.server.listeners('request')[0] as http.RequestListener);
    await new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Waits until `count` requests match (accepted ones), or fails after `timeoutMs`. */
  async waitFor(predicate: (r: Received) => boolean, count = 1, timeoutMs = 15_000): Promise<Received[]> {
    const matching = () => this.received.filter(predicate);
    if (matching().length >= count) return matching();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (matching().length >= count) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve(matching());
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`receiver: ${matching().length} of ${count} expected requests within ${timeoutMs} ms; got ${this.received.length} accepted, ${this.failures.length} refused`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }
}

/** A websocket client that keeps every message. */
export class WsClient {
  readonly messages: string[] = [];
  private waiters = new Set<() => void>();
  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.messages.push(data.toString());
      for (const waiter of [...this.waiters]) waiter();
    });
  }

  static connect(url: string, headers: Record<string, string> = {}): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers });
      const client = new WsClient(socket);
      socket.once('open', () => resolve(client));
      socket.once('error', reject);
      socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
    });
  }

  send(text: string): void {
    this.socket.send(text);
  }

  /** Messages matching, once there are `count` of them. */
  waitFor(predicate: (message: string) => boolean, count = 1, timeoutMs = 15_000): Promise<string[]> {
    const matching = () => this.messages.filter(predicate);
    if (matching().length >= count) return Promise.resolve(matching());
    return new Promise((resolve, reject) => {
      const check = () => {
        if (matching().length >= count) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve(matching());
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`websocket: ${matching().length} of ${count} expected messages within ${timeoutMs} ms; got ${JSON.stringify(this.messages).slice(0, 2000)}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  close(): void {
    this.socket.close();
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read FHIR JSON freely
export function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The notification type of a Backport notification Bundle (its SubscriptionStatus `type`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read FHIR JSON freely
export function notificationType(bundle: any): string | undefined {
  const status = bundle?.entry?.[0]?.resource;
  return status?.parameter?.find((p: { name: string }) => p.name === 'type')?.valueCode;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read FHIR JSON freely
export function eventNumbers(bundle: any): number[] {
  const status = bundle?.entry?.[0]?.resource;
  return (status?.parameter ?? [])
    .filter((p: { name: string }) => p.name === 'notification-event')
    .map((p: { part: { name: string; valueString?: string }[] }) => Number(p.part.find((x) => x.name === 'event-number')?.valueString));
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns a value other than undefined. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

let appointmentCount = 0;

/** A valid Appointment (the scheduling rules want start and end when booked) with these participants. */
export function appointment(status: string, actors: string[] = ['Practitioner/p1'], extra: Record<string, unknown> = {}) {
  // Each at its own hour: the scheduling rules refuse overlapping appointments of one practitioner.
  const start = Date.UTC(2027, 0, 1) + appointmentCount++ * 3_600_000;
  return {
    resourceType: 'Appointment',
    status,
    start: new Date(start).toISOString(),
    end: new Date(start + 1_800_000).toISOString(),
    participant: actors.map((reference) => ({ actor: { reference }, status: 'accepted' })),
    ...extra,
  };
}

/** A classic R4 Subscription. */
export function classicSubscription(criteria: string, channel: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { resourceType: 'Subscription', status: 'requested', reason: 'test', criteria, channel, ...extra };
}

const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';

export interface TopicOptions {
  filters?: string[];
  content?: 'empty' | 'id-only' | 'full-resource';
  heartbeat?: number;
  timeout?: number;
  maxCount?: number;
  headers?: string[];
  secret?: string;
  end?: string;
}

/** A topic-based Subscription (Subscriptions Backport IG on R4). */
export function topicSubscription(topic: string, type: 'rest-hook' | 'websocket', endpoint: string | undefined, options: TopicOptions = {}) {
  const channelExtensions = [
    ...(options.heartbeat ? [{ url: `${BACKPORT}/backport-heartbeat-period`, valueUnsignedInt: options.heartbeat }] : []),
    ...(options.timeout ? [{ url: `${BACKPORT}/backport-timeout`, valueUnsignedInt: options.timeout }] : []),
    ...(options.maxCount ? [{ url: `${BACKPORT}/backport-max-count`, valuePositiveInt: options.maxCount }] : []),
    ...(options.secret ? [{ url: 'http://fhir-server.example/StructureDefinition/subscription-secret', valueString: options.secret }] : []),
  ];
  return {
    resourceType: 'Subscription',
    meta: { profile: [`${BACKPORT}/backport-subscription`] },
    status: 'requested',
    reason: 'test',
    ...(options.end ? { end: options.end } : {}),
    criteria: topic,
    ...(options.filters?.length
      ? { _criteria: { extension: options.filters.map((valueString) => ({ url: `${BACKPORT}/backport-filter-criteria`, valueString })) } }
      : {}),
    channel: {
      ...(channelExtensions.length ? { extension: channelExtensions } : {}),
      type,
      ...(endpoint ? { endpoint } : {}),
      payload: 'application/fhir+json',
      _payload: { extension: [{ url: `${BACKPORT}/backport-payload-content`, valueCode: options.content ?? 'id-only' }] },
      ...(options.headers ? { header: options.headers } : {}),
    },
  };
}

export const TOPICS = {
  appointmentBooked: 'http://fhir-server.example/SubscriptionTopic/appointment-booked',
  appointmentCancelled: 'http://fhir-server.example/SubscriptionTopic/appointment-cancelled',
  medicationRequestCreated: 'http://fhir-server.example/SubscriptionTopic/medicationrequest-created',
  medicationRequestStatusChanged: 'http://fhir-server.example/SubscriptionTopic/medicationrequest-status-changed',
  invoiceIssued: 'http://fhir-server.example/SubscriptionTopic/invoice-issued',
};

/** A SubscriptionStatus parameter's value, from a notification Bundle or a `$status` entry. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read FHIR JSON freely
export function statusValue(parameters: any, name: string): string | undefined {
  const parameter = parameters?.parameter?.find((p: { name: string }) => p.name === name);
  return parameter?.valueString ?? parameter?.valueCode ?? parameter?.valueCanonical ?? parameter?.valueReference?.reference;
}
