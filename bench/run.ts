/**
 * `npm run bench` (every benchmark) or `npm run bench:<name>` / `npm run bench -- <name>...`.
 *
 * Each benchmark starts the server as its own process (`node dist/src/main.js`, LOG_LEVEL=warn)
 * on DATABASE_URL, or on an embedded PostgreSQL started here; loads the generated data set through
 * the API when it is not there yet; drives load with autocannon from this process at each
 * concurrency; and compares with a bare fastify + pg baseline (bench/baseline-server.ts, also a
 * process of its own) measured in the same run. Prints a table, writes bench/results/<name>-<date>.json.
 * Sizes and durations: see bench/benchmarks/config.ts (BENCH_* variables).
 */
import { formatDuration } from './lib/progress.js';
import { onShutdown, shutdownAll } from './lib/children.js';
import { openDatabase } from './lib/database.js';
import { buildServer } from './lib/processes.js';
import { formatNotes, formatTable, machine, writeResults } from './lib/report.js';
import { configFromEnv } from './benchmarks/config.js';
import { BenchContext } from './benchmarks/context.js';
import { BENCHMARKS } from './benchmarks/index.js';

async function main(): Promise<number> {
  const names = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
  if (process.argv.includes('--help') || process.argv.includes('--list')) {
    console.log(`npm run bench [-- <name>...]\n\n${BENCHMARKS.map((b) => `  ${b.name.padEnd(20)} ${b.description}`).join('\n')}`);
    return 0;
  }
  const unknown = names.filter((name) => !BENCHMARKS.some((b) => b.name === name));
  if (unknown.length) {
    console.error(`Unknown benchmark(s): ${unknown.join(', ')}. Known: ${BENCHMARKS.map((b) => b.name).join(', ')}`);
    return 2;
  }
  const selected = names.length ? BENCHMARKS.filter((b) => names.includes(b.name)) : BENCHMARKS;
  const config = configFromEnv();
  const started = Date.now();

  // Everything this run starts is stopped after BENCH_TIMEOUT_MINUTES at the latest.
  const limitMinutes = Number(process.env.BENCH_TIMEOUT_MINUTES ?? 60);
  const watchdog = setTimeout(() => {
    process.stderr.write(`\nBENCH_TIMEOUT_MINUTES (${limitMinutes}) reached: stopping\n`);
    void shutdownAll().finally(() => process.exit(1));
  }, limitMinutes * 60_000);
  watchdog.unref();

  process.stderr.write(
    `benchmarks: ${selected.map((b) => b.name).join(', ')}; ${config.durationSec} s per measurement at ${config.connections.join(' and ')} connection(s); ` +
      `data set ${config.patients} patients (seed ${config.seed})\n`,
  );
  if (config.build) {
    process.stderr.write('building the server (tsc -p tsconfig.json)...\n');
    await buildServer();
  }
  const db = await openDatabase();
  const context = new BenchContext(config, db);
  onShutdown(() => context.close());
  if (!db.embedded) {
    onShutdown(async () => {
      // The baseline's table in a database we were given: leave nothing behind.
      const pg = (await import('pg')).default;
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      await client.query('DROP SCHEMA IF EXISTS bench_baseline CASCADE');
      await client.end();
    });
  }

  const failures: { benchmark: string; error: string }[] = [];
  for (const benchmark of selected) {
    process.stderr.write(`\n== ${benchmark.name}: ${benchmark.description}\n`);
    try {
      await context.startServer(benchmark.name, benchmark.serverEnv);
      await benchmark.run(context);
    } catch (error) {
      const message = (error as Error).stack ?? String(error);
      failures.push({ benchmark: benchmark.name, error: message });
      process.stderr.write(`benchmark ${benchmark.name} FAILED: ${message}\n`);
    } finally {
      await context.stopServer();
    }
  }
  await context.close();

  const date = new Date().toISOString();
  const about = machine();
  console.log(`\nFHIR server benchmarks, ${date}, ${about.cores} cores (${about.cpu}), Node ${about.node}`);
  console.log(
    `${config.durationSec} s per row after ${config.warmupSec} s warm-up; data set ${config.patients} generated patients` +
      `; bearer token: ${[...new Set(Object.values(context.tokenSources))].join(' / ') || 'none'}; database: ${db.embedded ? 'embedded PostgreSQL' : 'DATABASE_URL'}\n`,
  );
  console.log(formatTable(context.rows));
  const notes = formatNotes(context.rows);
  if (notes) console.log(`\n${notes}`);
  for (const failure of failures) console.log(`\nFAILED ${failure.benchmark}: ${failure.error.split('\n')[0]}`);
  const file = writeResults(names.length === 1 ? names[0] : names.length ? names.join('+') : 'all', {
    date,
    machine: about,
    config: { ...config, token: config.token ? '(set)' : undefined },
    database: db.embedded ? 'embedded' : 'DATABASE_URL',
    authenticated: Boolean(context.token),
    tokenSources: context.tokenSources,
    rows: context.rows,
    failures,
    ...context.extra,
  });
  console.log(`\nResults: ${file} (${formatDuration((Date.now() - started) / 1000)})`);
  return failures.length ? 1 : 0;
}

main()
  .then(async (code) => {
    await shutdownAll();
    process.exit(code);
  })
  .catch(async (error: unknown) => {
    console.error(error);
    await shutdownAll();
    process.exit(1);
  });
