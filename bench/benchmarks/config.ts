/** Run sizes and durations, from the environment; the defaults finish `npm run bench` in minutes on 2 cores. */
export interface BenchConfig {
  /** Seconds of load per measurement (BENCH_DURATION). */
  durationSec: number;
  /** Seconds of load before each measured row, not counted (BENCH_WARMUP). */
  warmupSec: number;
  /** Concurrent connections, one measurement each (BENCH_CONNECTIONS, "1,10"). */
  connections: number[];
  /** Patients in the data set the read and search benchmarks run on (~175 resources each). */
  patients: number;
  seed: number;
  /** Patients regenerated to pick ids, names and codes for requests (BENCH_SAMPLE). */
  sample: number;
  /** Bundles in flight while loading the data set (BENCH_LOAD_CONCURRENCY). */
  loadConcurrency: number;
  /** Ingest: generated patients instead of the 56 Synthea Bundles (BENCH_INGEST_PATIENTS). */
  ingestPatients?: number;
  ingestConnections: number[];
  /** A bearer token for every request (BENCH_TOKEN); else one is obtained per server start (lib/token.ts). */
  token?: string;
  build: boolean;
  /** Only the rows whose label contains this text, case aside (BENCH_ONLY): to measure one search again. */
  only?: string;
}

function number(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number, not "${raw}"`);
  return value;
}

function list(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (!raw) return fallback;
  const values = raw.split(',').map((part) => Number(part.trim()));
  if (values.some((v) => !Number.isInteger(v) || v < 1)) throw new Error(`${name} must be a list of whole numbers like "1,10", not "${raw}"`);
  return values;
}

export function configFromEnv(): BenchConfig {
  const connections = list('BENCH_CONNECTIONS', [1, 10]);
  return {
    durationSec: number('BENCH_DURATION', 3),
    warmupSec: number('BENCH_WARMUP', 1),
    connections,
    patients: Math.max(1, Math.round(number('BENCH_PATIENTS', 40))),
    seed: Math.round(number('BENCH_SEED', 1)),
    sample: Math.max(1, Math.round(number('BENCH_SAMPLE', 50))),
    loadConcurrency: Math.max(1, Math.round(number('BENCH_LOAD_CONCURRENCY', 4))),
    ingestPatients: process.env.BENCH_INGEST_PATIENTS ? Math.round(number('BENCH_INGEST_PATIENTS', 0)) : undefined,
    ingestConnections: list('BENCH_INGEST_CONNECTIONS', connections),
    token: process.env.BENCH_TOKEN || undefined,
    build: process.env.BENCH_NO_BUILD !== '1',
    only: process.env.BENCH_ONLY?.toLowerCase() || undefined,
  };
}
