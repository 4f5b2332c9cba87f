import pg from 'pg';
import { CHANNELS } from './vocabulary.js';

type Handler = (payload: string) => void;

/** This process's identity in PostgreSQL while the listener is connected: leases name it, and die with it. */
export interface BackendIdentity {
  pid: number;
  /** As PostgreSQL prints it (microseconds): a JavaScript Date would lose precision and never compare equal. */
  backendStart: string;
}

/**
 * One LISTEN connection per process for the subscription channels. Notifications only wake
 * readers up; after a reconnect (a notification may have been missed) every reader is woken
 * anyway, and all of them also poll. The connection's backend identifies this process in delivery
 * leases: when the process dies, PostgreSQL ends the backend and the leases are free at once.
 */
export class NotificationListener {
  private client?: pg.Client;
  private readonly handlers = new Map<string, Handler[]>();
  private readonly reconnectHandlers: (() => void)[] = [];
  private stopped = false;
  private retryTimer?: NodeJS.Timeout;
  identity?: BackendIdentity;

  constructor(private readonly connectionString: string) {}

  on(channel: string, handler: Handler): void {
    this.handlers.set(channel, [...(this.handlers.get(channel) ?? []), handler]);
  }

  onReconnect(handler: () => void): void {
    this.reconnectHandlers.push(handler);
  }

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString });
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => {
      for (const handler of this.handlers.get(message.channel) ?? []) handler(message.payload ?? '');
    });
    await client.connect();
    for (const channel of Object.values(CHANNELS)) await client.query(`LISTEN ${channel}`);
    const { rows } = await client.query<{ pid: number; backend_start: string }>(
      'SELECT pid, backend_start::text AS backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()',
    );
    this.identity = { pid: rows[0].pid, backendStart: rows[0].backend_start };
    this.client = client;
  }

  private lost(client: pg.Client): void {
    if (this.client !== client || this.stopped) return;
    this.client = undefined;
    this.identity = undefined;
    client.end().catch(() => undefined);
    const retry = () => {
      this.retryTimer = undefined;
      if (this.stopped) return;
      this.connect().then(
        () => this.reconnectHandlers.forEach((handler) => handler()),
        () => (this.retryTimer = setTimeout(retry, 1000)),
      );
    };
    this.retryTimer = setTimeout(retry, 200);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
