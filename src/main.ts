import v8 from 'node:v8';
import vm from 'node:vm';
import pino from 'pino';
import { configFromEnv, loadDotEnv } from './config.js';
import { removeStaleSpools } from './fhir/json-body.js';
import { warmUpValidation } from './fhir/validation/index.js';
import { buildServer } from './server.js';
import { Database, migrate, startEmbeddedPostgres, type EmbeddedDatabase } from './store/index.js';

/**
 * The process: configuration, the database (a real one from DATABASE_URL, else an embedded one),
 * migrations, the HTTP server, and a graceful shutdown in reverse order.
 */
/**
 * Start-up parses about 60 MB of definition JSON. Its garbage (whole-file strings in V8's
 * large-object space, 70 MB) is only freed by a full collection, which an idle or lightly loaded
 * server may not run for a long time: one now takes the resident size from about 270 MB to 200 MB.
 */
function releaseStartUpGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

/**
 * V8 moves an allocation site's objects straight to the old generation once most of them outlived a
 * young collection. A busy server teaches it that for sites its streams also use: after 3,000
 * creates, downloading the files of a 1,000,000-resource export took the heap from 80 to 300 MB
 * (RSS +230 MB) of garbage that only a full collection frees, against +10 MB in a process that had
 * done nothing before. Without pretenuring, +14 MB after the same creates.
 */
function keepShortLivedObjectsYoung(): void {
  v8.setFlagsFromString('--no-allocation-site-pretenuring');
}

/**
 * After each full collection V8 lets the heap grow to a multiple of what survived it, chosen from
 * its collection speed: up to 4. A 100 MB transaction Bundle keeps about 55 MB more alive while it
 * runs, and the default growth took the resident size 174 MB up; with a fixed factor of 1.2, 93 to
 * 118 MB (76 to 85 MB since the audit records of such a transaction are written as they fill,
 * audit-log.ts). The cost is more full collections under steady load: 8 instead of 4 in 15 s of creates
 * (175 against 135 ms in all), 5 instead of 3 in 15 s of reads (and less time in them).
 */
function boundHeapGrowth(): void {
  v8.setFlagsFromString('--heap-growing-percent=20');
}

/**
 * The log, written to stdout in blocks of 4 KB, and at least every second: one write per line was
 * about 5% of a read's server time at the default level. What is buffered is written when the
 * process exits, however it exits short of being killed. At `debug` and `trace`, where one follows
 * requests as they arrive, each line is written at once.
 */
function logDestination(level: string): ReturnType<typeof pino.destination> {
  const immediate = level === 'debug' || level === 'trace';
  return pino.destination({ dest: 1, minLength: immediate ? 0 : 4096, sync: false, periodicFlush: immediate ? 0 : 1000 });
}

async function main(): Promise<void> {
  keepShortLivedObjectsYoung();
  boundHeapGrowth();
  loadDotEnv();
  const config = configFromEnv();
  let embedded: EmbeddedDatabase | undefined;
  if (!config.databaseUrl) embedded = await startEmbeddedPostgres(config.dataDir);
  const databaseUrl = config.databaseUrl ?? (embedded as EmbeddedDatabase).url;
  await migrate(databaseUrl);
  const db = new Database(databaseUrl);
  const log = logDestination(config.logLevel);
  const { app } = await buildServer(config, db, { level: config.logLevel, stream: log });
  const staleSpools = await removeStaleSpools(config.bundleSpoolDir);
  if (staleSpools) app.log.warn({ dir: config.bundleSpoolDir, files: staleSpools }, 'removed Bundle spool files a stopped process left');
  // Compiles the validators of every type now, so that no request pays for it.
  warmUpValidation();
  releaseStartUpGarbage();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    await app.close();
    await db.close();
    await embedded?.stop();
    app.log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  await app.listen({ port: config.port, host: config.host });
  app.log.info({ baseUrl: config.baseUrl, embeddedDatabase: Boolean(embedded) }, 'FHIR server ready');
  // Whoever started the process sees that it is up now, not with the next block of lines.
  log.flush();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
