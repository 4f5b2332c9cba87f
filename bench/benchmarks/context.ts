import type { BenchDatabase } from '../lib/database.js';
import { FhirClient } from '../lib/fhir-client.js';
import { runLoad, type LoadRequest, type LoadResult } from '../lib/load.js';
import { CpuMeter } from '../lib/cpu.js';
import { BASELINE_MAIN, SERVER_MAIN, startService, type ServiceHandle } from '../lib/processes.js';
import { Random } from '../lib/random.js';
import { adminClient, obtainToken } from '../lib/token.js';
import { formatTable, type Row } from '../lib/report.js';
import type { BenchConfig } from './config.js';
import { ensureDataset, type Dataset } from './dataset.js';
import { createRequest, readRequest } from './workloads.js';

const TOKEN_SECONDS = 3600;
const TOKEN_REFRESH_MS = 40 * 60_000;

export interface MeasureSpec {
  label: string;
  /** The baseline to compare with: a one-row read or a one-row insert. */
  baseline?: 'read' | 'insert';
  /** Resources per request (a Bundle's entries), to report resources/s. */
  unitsPerRequest?: number;
  /** Statuses that count as success (default any 2xx). */
  expect?: number[];
  next: (random: Random) => LoadRequest;
  notes?: string[];
  connections?: number[];
  /**
   * For slow requests (seconds each): a fixed number of requests per connection instead of the
   * duration, so that every measurement completes some (autocannon drops requests in flight at the end).
   */
  requestsPerConnection?: number;
}

/** One benchmark: a name for `npm run bench:<name>` and what it measures on a running server. */
export interface Benchmark {
  name: string;
  description: string;
  /** Environment of its server on top of the usual (e.g. a larger BODY_LIMIT). */
  serverEnv?: NodeJS.ProcessEnv;
  run(context: BenchContext): Promise<void>;
}

/**
 * What a benchmark works with: the database of the run, the server process it started, a client
 * with the token, the data set, and `measure`, which drives load at each concurrency and compares
 * with the baseline measured in the same run.
 */
export class BenchContext {
  readonly rows: Row[] = [];
  readonly extra: Record<string, unknown> = {};
  server?: ServiceHandle;
  private currentClient?: FhirClient;
  private baselineService?: ServiceHandle;
  private readonly baselines = new Map<string, LoadResult>();
  private dataset?: Promise<Dataset>;
  private benchmark = '';
  token?: string;
  private tokenTimer?: NodeJS.Timeout;
  private headerShown = false;
  /** How each benchmark's token was obtained. */
  readonly tokenSources: Record<string, string> = {};

  constructor(
    readonly config: BenchConfig,
    readonly db: BenchDatabase,
  ) {}

  get client(): FhirClient {
    if (!this.currentClient) throw new Error('The server is not running');
    return this.currentClient;
  }

  /** A fresh server process for this benchmark (LOG_LEVEL=warn, no rate limit), and a token for it. */
  async startServer(benchmark: string, serverEnv: NodeJS.ProcessEnv = {}): Promise<void> {
    this.benchmark = benchmark;
    this.server = await startService({
      name: `server-${benchmark}`,
      script: SERVER_MAIN,
      readyPath: '/readyz',
      // e.g. BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=bench/results/profiles": a profile per benchmark.
      nodeArgs: (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
      env: (origin) => ({
        DATABASE_URL: this.db.url,
        BASE_URL: origin,
        LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
        RATE_LIMIT_PER_MINUTE: '0',
        ADMIN_CLIENT_ID: adminClient.id,
        ADMIN_CLIENT_SECRET: adminClient.secret,
        ...serverEnv,
      }),
    });
    const origin = this.server.origin;
    const source = await obtainToken(origin, this.db.url, TOKEN_SECONDS);
    this.token = source.token;
    this.tokenSources[benchmark] = source.how;
    this.headerShown = false;
    this.currentClient = new FhirClient({ baseUrl: `${origin}/fhir`, token: this.token });
    // Tokens live an hour: a long load (a million resources) gets a fresh one now and then.
    const client = this.currentClient;
    this.tokenTimer = setInterval(() => {
      void obtainToken(origin, this.db.url, TOKEN_SECONDS).then((next) => client.setToken(next.token), () => undefined);
    }, TOKEN_REFRESH_MS);
    this.tokenTimer.unref();
  }

  async stopServer(): Promise<void> {
    clearInterval(this.tokenTimer);
    await this.server?.stop();
    this.server = undefined;
    this.currentClient = undefined;
  }

  /** The generated data set, loaded through this server if it is not in the database yet. */
  ensureDataset(): Promise<Dataset> {
    this.dataset ??= ensureDataset(this.client, {
      patients: this.config.patients,
      seed: this.config.seed,
      sample: this.config.sample,
      concurrency: this.config.loadConcurrency,
    }).then((dataset) => {
      if (dataset.load) {
        this.extra.datasetLoad = {
          resources: dataset.load.resources,
          seconds: dataset.load.seconds,
          resourcesPerSecond: dataset.load.rate,
          concurrency: this.config.loadConcurrency,
        };
        process.stderr.write(`data set loaded: ${dataset.load.resources.toLocaleString('en-US')} resources in ${dataset.load.seconds.toFixed(1)} s, ${Math.round(dataset.load.rate)} resources/s\n`);
      }
      return dataset;
    });
    return this.dataset;
  }

  /** Load at each concurrency (a warm-up first), one row each, printed as it comes. */
  async measure(spec: MeasureSpec): Promise<Row[]> {
    const server = this.server;
    if (!server) throw new Error('The server is not running');
    const rows: Row[] = [];
    if (this.config.only && !spec.label.toLowerCase().includes(this.config.only)) return rows;
    for (const connections of spec.connections ?? this.config.connections) {
      const random = new Random(this.config.seed, 'load', spec.label, connections);
      const options = {
        origin: server.origin,
        connections,
        headers: this.client.headers(),
        next: () => spec.next(random),
        expect: spec.expect,
      };
      const amount = spec.requestsPerConnection ? { amount: spec.requestsPerConnection * connections } : {};
      if (this.config.warmupSec > 0) await runLoad({ ...options, durationSec: this.config.warmupSec, ...(spec.requestsPerConnection ? { amount: connections } : {}) });
      server.resetPeakRss();
      const cpu = new CpuMeter(server.pid);
      const result = await runLoad({ ...options, durationSec: this.config.durationSec, ...amount });
      const row = this.row(spec, result, server.peakRssMb());
      row.cpu = cpu.perRequest(result.requests);
      if (spec.baseline) {
        const baseline = await this.baseline(spec.baseline, connections);
        row.baseline = { kind: spec.baseline, rps: baseline.rps, p50: baseline.latency.p50, p95: baseline.latency.p95, p99: baseline.latency.p99 };
        row.ratio = (row.unitsPerSecond ?? row.rps) / baseline.rps;
      }
      this.addRow(row);
      rows.push(row);
    }
    return rows;
  }

  row(spec: { label: string; unitsPerRequest?: number; notes?: string[] }, result: LoadResult, peakRssMb?: number): Row {
    const notes = [...(spec.notes ?? [])];
    if (result.failures) notes.push(`unexpected answers: ${JSON.stringify(result.statusCounts)}`);
    return {
      benchmark: this.benchmark,
      label: spec.label,
      connections: result.connections,
      requests: result.requests,
      rps: result.rps,
      unit: spec.unitsPerRequest ? 'resources' : undefined,
      unitsPerSecond: spec.unitsPerRequest ? result.rps * spec.unitsPerRequest : undefined,
      latency: result.latency,
      failures: result.failures,
      statusCounts: result.statusCounts,
      peakRssMb,
      notes,
    };
  }

  addRow(row: Row): void {
    this.rows.push(row);
    const [header, rule, line] = formatTable([row]).split('\n');
    if (!this.headerShown) process.stderr.write(`${header}\n${rule}\n`);
    this.headerShown = true;
    process.stderr.write(`${line}\n`);
  }

  /**
   * The baseline server's figure for one-row reads or inserts at this concurrency, measured once
   * per benchmark next to ours (on the same data set rows and the same bodies as ours).
   */
  async baseline(kind: 'read' | 'insert', connections: number): Promise<LoadResult> {
    // Measured again for each benchmark: on a shared machine the load of other work drifts over minutes.
    const key = `${this.benchmark}:${kind}:${connections}`;
    const known = this.baselines.get(key);
    if (known) return known;
    const dataset = await this.ensureDataset();
    this.baselineService ??= await startService({
      name: 'baseline',
      script: BASELINE_MAIN,
      readyPath: '/readyz',
      env: { DATABASE_URL: this.db.url },
    });
    const random = new Random(this.config.seed, 'baseline', kind, connections);
    const options = {
      origin: this.baselineService.origin,
      connections,
      headers: this.client.headers(),
      next: () => (kind === 'read' ? readRequest(dataset, random) : createRequest(dataset, random)),
    };
    if (this.config.warmupSec > 0) await runLoad({ ...options, durationSec: this.config.warmupSec });
    const cpu = new CpuMeter(this.baselineService.pid);
    const result = await runLoad({ ...options, durationSec: this.config.durationSec });
    if (result.failures) throw new Error(`The baseline ${kind} failed: ${JSON.stringify(result.statusCounts)}`);
    this.baselines.set(key, result);
    const row = this.row({ label: `baseline ${kind} (bare fastify + pg)` }, result, this.baselineService.peakRssMb());
    row.benchmark = 'baseline';
    row.cpu = cpu.perRequest(result.requests);
    this.addRow(row);
    return result;
  }

  async close(): Promise<void> {
    await this.stopServer();
    await this.baselineService?.stop();
    this.baselineService = undefined;
  }
}
