/// <reference path="../../src/types/ws.d.ts" />
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';

/** A notification about one written version arrived: which resource (`Type/id`) and when (`Date.now()`). */
export interface Arrival {
  key: string;
  at: number;
}

interface NotificationBundle {
  resourceType?: string;
  id?: string;
  entry?: { fullUrl?: string; resource?: { parameter?: { name: string; valueCode?: string }[] } }[];
}

/** `Type/id` of a full URL such as `http://host/fhir/Appointment/123`. */
function resourceKey(fullUrl: string): string {
  return fullUrl.split('/').slice(-2).join('/');
}

function notificationType(bundle: NotificationBundle): string | undefined {
  return bundle.entry?.[0]?.resource?.parameter?.find((p) => p.name === 'type')?.valueCode;
}

/**
 * The resources a notification is about: a classic rest-hook's body is the version itself; a
 * Backport notification Bundle names each event's focus after its SubscriptionStatus entry.
 * Handshakes and heartbeats are about nothing.
 */
export function notifiedResources(text: string): string[] {
  let body: NotificationBundle;
  try {
    body = JSON.parse(text) as NotificationBundle;
  } catch {
    return [];
  }
  if (body.resourceType !== 'Bundle') return body.resourceType && body.id ? [`${body.resourceType}/${body.id}`] : [];
  if (notificationType(body) !== 'event-notification') return [];
  return (body.entry ?? []).slice(1).flatMap((entry) => (entry.fullUrl ? [resourceKey(entry.fullUrl)] : []));
}

/** A rest-hook endpoint on 127.0.0.1 that answers 200 at once and records the time each notification arrived. */
export class RestHookReceiver {
  readonly arrivals: Arrival[] = [];
  /** Requests that carried no event (handshakes, heartbeats, classic notifications without a body). */
  others = 0;
  private readonly server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const at = Date.now();
      response.writeHead(200).end();
      const keys = notifiedResources(Buffer.concat(chunks).toString('utf8'));
      if (keys.length === 0) this.others++;
      for (const key of keys) this.arrivals.push({ key, at });
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A websocket client bound to topic-based Subscriptions, recording when each event notification arrived. */
export class WebsocketReceiver {
  readonly arrivals: Arrival[] = [];
  private handshakes = 0;
  private readonly errors: string[] = [];

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const at = Date.now();
      const text = data.toString();
      if (text.startsWith('error')) this.errors.push(text);
      else if (text.includes('"handshake"')) this.handshakes++;
      for (const key of notifiedResources(text)) this.arrivals.push({ key, at });
    });
  }

  static connect(url: string, token: string | undefined): Promise<WebsocketReceiver> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      socket.once('open', () => resolve(new WebsocketReceiver(socket)));
      socket.once('error', reject);
      socket.once('unexpected-response', (_request, response) => reject(new Error(`websocket upgrade refused: ${response.statusCode}`)));
    });
  }

  /** Binds the subscriptions and waits for a handshake from each. */
  async bind(ids: string[], timeoutMs = 30_000): Promise<void> {
    for (const id of ids) this.socket.send(`bind ${id}`);
    const deadline = Date.now() + timeoutMs;
    while (this.handshakes < ids.length) {
      if (this.errors.length) throw new Error(`websocket bind refused: ${this.errors.join('; ')}`);
      if (Date.now() > deadline) throw new Error(`websocket: ${this.handshakes} of ${ids.length} handshakes within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  close(): void {
    this.socket.close();
  }
}
