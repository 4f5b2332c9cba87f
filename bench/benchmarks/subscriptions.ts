import http from 'node:http';
import { runPaced, type PacedResult } from '../lib/paced.js';
import { RestHookReceiver, WebsocketReceiver, type Arrival } from '../lib/notification-receivers.js';
import { summarizeLatencies, type LatencySummary } from '../lib/stats.js';
import { sleep } from '../lib/net.js';
import type { Row } from '../lib/report.js';
import type { Benchmark, BenchContext } from './context.js';
import { requestOf, Workload, type Channel, type PlannedSubscription } from './subscriptions-workload.js';

const NAME = 'subscriptions';
/** Issue #5: 1,000 active subscriptions, 200 writes/s, max throughput at 10 connections. */
const SUBSCRIPTIONS = positiveInteger('BENCH_SUBSCRIPTIONS', 1000);
const WRITE_RATE = positiveInteger('BENCH_WRITE_RATE', 200);
const THROUGHPUT_CONNECTIONS = 10;
/** Writes in flight at most during the paced phase; beyond, the server is not keeping up and writes are skipped (reported). */
const MAX_IN_FLIGHT = 100;
const SETUP_CONCURRENCY = 8;
/** How long the last deliveries may take after the last write before they count as missing. */
const DRAIN_TIMEOUT_MS = 60_000;

function positiveInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number above 0, not "${raw}"`);
  return value;
}

interface Written {
  /** `meta.lastUpdated` of the version: set by the server before its transaction commits. */
  lastUpdated: number;
  /** When its 201 arrived here: after the commit. */
  answeredAt: number;
}

interface ChannelReport {
  expected: number;
  delivered: number;
  missing: number;
  duplicates: number;
  /** Arrival minus `meta.lastUpdated`: an upper bound of commit-to-delivery (it includes the write's own work before the commit). */
  fromLastUpdated: LatencySummary;
  /** Arrival minus the arrival of the write's answer: a lower bound (the answer comes after the commit; negative when the notification came first). */
  fromAnswer: LatencySummary;
}

export const subscriptions: Benchmark = {
  name: NAME,
  description: `commit-to-delivery latency (rest-hook, websocket) with ${SUBSCRIPTIONS} active subscriptions at ${WRITE_RATE} writes/s; create throughput with and without them`,
  async run(context) {
    const receiver = new RestHookReceiver();
    const endpoint = await receiver.start();
    let websocket: WebsocketReceiver | undefined;
    let created: CreatedSubscription[] = [];
    try {
      await restartAllowingLoopbackEndpoints(context);
      await requireNoActiveSubscriptions(context);
      const workload = new Workload(`bench-sub-${Date.now().toString(36)}`, endpoint);
      const none = await measureThroughput(context, workload, 'create, no subscriptions');

      created = await createSubscriptions(context, workload.subscriptions(SUBSCRIPTIONS));
      await waitUntilActive(context, created.length);
      websocket = await WebsocketReceiver.connect(`${context.client.baseUrl.replace(/^http/, 'ws')}/subscriptions/ws`, context.token);
      await websocket.bind(created.filter((s) => s.measured === 'websocket').map((s) => s.id));

      const paced = await writeAtFixedRate(context, workload);
      const deliveries = await awaitDeliveries(paced.watched, { 'rest-hook': receiver.arrivals, websocket: websocket.arrivals });
      const loaded = await measureThroughput(context, workload, `create, ${created.length.toLocaleString('en-US')} active subscriptions`);

      const ratio = loaded.rps / none.rps;
      const summary = summaryTable(paced.result, deliveries, none, loaded, ratio);
      process.stderr.write(`\n${summary}\n`);
      console.log(`\nSubscriptions (${created.length} active, ${WRITE_RATE} writes/s for ${context.config.durationSec} s):\n${summary}`);
      context.extra.subscriptions = {
        activeSubscriptions: created.length,
        measuredSubscriptions: { 'rest-hook': created.filter((s) => s.measured === 'rest-hook').length, websocket: created.filter((s) => s.measured === 'websocket').length },
        writeRate: WRITE_RATE,
        writes: paced.result,
        peakRssMb: paced.peakRssMb,
        deliveries,
        throughput: { none: none.rps, withSubscriptions: loaded.rps, ratio },
        restHookRequestsWithoutEvents: receiver.others,
      };
    } finally {
      websocket?.close();
      await deleteSubscriptions(context, created);
      await receiver.stop();
    }
  },
};

/**
 * The receiver is on loopback, which the server refuses as a rest-hook endpoint (no SSRF) unless
 * ALLOW_PRIVATE_CALLBACKS: this benchmark's server is started again with it, and only this one.
 */
async function restartAllowingLoopbackEndpoints(context: BenchContext): Promise<void> {
  const before = process.env.ALLOW_PRIVATE_CALLBACKS;
  process.env.ALLOW_PRIVATE_CALLBACKS = 'true';
  try {
    await context.stopServer();
    await context.startServer(NAME);
  } finally {
    if (before === undefined) delete process.env.ALLOW_PRIVATE_CALLBACKS;
    else process.env.ALLOW_PRIVATE_CALLBACKS = before;
  }
}

async function countSubscriptions(context: BenchContext, status: string): Promise<number> {
  const bundle = await context.client.getJson<{ total?: number }>(`Subscription?status=${status}&_summary=count`);
  return bundle.total ?? 0;
}

/** The "no subscriptions" figure means nothing on a database that has some (a kept BENCH_DATA_DIR, DATABASE_URL). */
async function requireNoActiveSubscriptions(context: BenchContext): Promise<void> {
  const active = await countSubscriptions(context, 'active,requested');
  if (active > 0) throw new Error(`The database already has ${active} active or requested Subscriptions; this benchmark needs none to start with`);
}

/** Creates at 10 connections, closed loop, as long as the other benchmarks' rows. */
async function measureThroughput(context: BenchContext, workload: Workload, label: string): Promise<Row> {
  const [row] = await context.measure({ label, expect: [201], connections: [THROUGHPUT_CONNECTIONS], next: () => workload.nextRequest() });
  if (!row) throw new Error(`BENCH_ONLY left out "${label}", which this benchmark's ratio needs`);
  return row;
}

interface CreatedSubscription {
  id: string;
  measured?: Channel;
}

async function inParallel<T, R>(items: T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

async function createSubscriptions(context: BenchContext, planned: PlannedSubscription[]): Promise<CreatedSubscription[]> {
  const started = Date.now();
  const created = await inParallel(planned, SETUP_CONCURRENCY, async ({ resource, measured }) => {
    const response = await context.client.send('POST', 'Subscription', resource);
    return { id: (JSON.parse(response.text) as { id: string }).id, measured };
  });
  process.stderr.write(`created ${created.length} subscriptions in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return created;
}

/** Topic-based rest-hooks are active once their handshake was accepted. */
async function waitUntilActive(context: BenchContext, count: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const active = await countSubscriptions(context, 'active');
    if (active >= count) return;
    if (Date.now() > deadline) throw new Error(`${active} of ${count} subscriptions active after 2 minutes`);
    await sleep(250);
  }
}

/** Leaves a kept database (BENCH_DATA_DIR, DATABASE_URL) without subscriptions to a receiver that is gone. */
async function deleteSubscriptions(context: BenchContext, created: CreatedSubscription[]): Promise<void> {
  if (!context.server || created.length === 0) return;
  await inParallel(created, SETUP_CONCURRENCY, (s) => deleteSubscription(context, s.id));
}

/** A DELETE is idempotent: one that failed on a kept-alive connection the server had just closed is sent again. */
async function deleteSubscription(context: BenchContext, id: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await context.client.request('DELETE', `Subscription/${id}`);
      return;
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

/** One create over a kept-alive connection; the id and `meta.lastUpdated` of the stored version. */
function postResource(agent: http.Agent, origin: string, headers: Record<string, string>, path: string, body: string): Promise<{ key: string; lastUpdated: number } | undefined> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${origin}${path}`, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        if (response.statusCode !== 201) return resolve(undefined);
        const stored = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { resourceType: string; id: string; meta: { lastUpdated: string } };
        resolve({ key: `${stored.resourceType}/${stored.id}`, lastUpdated: Date.parse(stored.meta.lastUpdated) });
      });
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** WRITE_RATE creates per second for BENCH_DURATION seconds; the watched bookings are remembered with their times. */
async function writeAtFixedRate(context: BenchContext, workload: Workload): Promise<{ result: PacedResult; watched: Map<string, Written>; peakRssMb: number }> {
  const server = context.server;
  if (!server) throw new Error('The server is not running');
  const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });
  const watched = new Map<string, Written>();
  const headers = context.client.headers();
  server.resetPeakRss();
  try {
    const result = await runPaced({
      rate: WRITE_RATE,
      durationSec: context.config.durationSec,
      maxInFlight: MAX_IN_FLIGHT,
      run: async () => {
        const write = workload.next();
        const { path, body, headers: contentType } = requestOf(write.resource);
        const stored = await postResource(agent, server.origin, { ...headers, ...contentType }, path, body);
        if (!stored) return false;
        if (write.watched) watched.set(stored.key, { lastUpdated: stored.lastUpdated, answeredAt: Date.now() });
        return true;
      },
    });
    process.stderr.write(
      `paced writes: ${result.started} started (${result.skipped} skipped, ${result.failed} failed), ${result.achievedRate.toFixed(1)}/s achieved; write p50 ${result.latency.p50.toFixed(1)} ms, p95 ${result.latency.p95.toFixed(1)} ms\n`,
    );
    return { result, watched, peakRssMb: server.peakRssMb() };
  } finally {
    agent.destroy();
  }
}

/** Waits until every watched write was delivered on both channels (or DRAIN_TIMEOUT_MS), then measures. */
async function awaitDeliveries(watched: Map<string, Written>, arrivals: Record<Channel, Arrival[]>): Promise<Record<Channel, ChannelReport>> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  const allArrived = () => Object.values(arrivals).every((list) => new Set(list.map((a) => a.key).filter((key) => watched.has(key))).size >= watched.size);
  while (!allArrived() && Date.now() < deadline) await sleep(100);
  return { 'rest-hook': channelReport(watched, arrivals['rest-hook']), websocket: channelReport(watched, arrivals.websocket) };
}

function channelReport(watched: Map<string, Written>, arrivals: Arrival[]): ChannelReport {
  const first = new Map<string, number>();
  let duplicates = 0;
  for (const { key, at } of arrivals) {
    if (!watched.has(key)) continue;
    if (first.has(key)) duplicates++;
    else first.set(key, at);
  }
  const fromLastUpdated: number[] = [];
  const fromAnswer: number[] = [];
  for (const [key, at] of first) {
    const written = watched.get(key) as Written;
    fromLastUpdated.push(at - written.lastUpdated);
    fromAnswer.push(at - written.answeredAt);
  }
  return {
    expected: watched.size,
    delivered: first.size,
    missing: watched.size - first.size,
    duplicates,
    fromLastUpdated: summarizeLatencies(fromLastUpdated),
    fromAnswer: summarizeLatencies(fromAnswer),
  };
}

const ms = (value: number) => value.toFixed(1);
const count = (value: number) => Math.round(value).toLocaleString('en-US');

/** The figures of issue #5 as one Markdown table. */
function summaryTable(writes: PacedResult, deliveries: Record<Channel, ChannelReport>, none: Row, loaded: Row, ratio: number): string {
  const lines = [
    '| measurement | count | p50 ms | p95 ms | p99 ms | max ms | missing | duplicates |',
    '|---|--:|--:|--:|--:|--:|--:|--:|',
    `| writes at ${WRITE_RATE}/s (achieved ${ms(writes.achievedRate)}/s, ${writes.skipped} skipped, ${writes.failed} failed): answer time | ${count(writes.started)} | ${ms(writes.latency.p50)} | ${ms(writes.latency.p95)} | ${ms(writes.latency.p99)} | ${ms(writes.latency.max)} | | |`,
  ];
  for (const channel of ['rest-hook', 'websocket'] as const) {
    const report = deliveries[channel];
    for (const [bound, latency] of [['from meta.lastUpdated', report.fromLastUpdated], ['from the write\'s answer', report.fromAnswer]] as const) {
      lines.push(
        `| ${channel} delivery, ${bound} | ${count(report.delivered)} of ${count(report.expected)} | ${ms(latency.p50)} | ${ms(latency.p95)} | ${ms(latency.p99)} | ${ms(latency.max)} | ${report.missing} | ${report.duplicates} |`,
      );
    }
  }
  lines.push(
    `| max creates/s at ${THROUGHPUT_CONNECTIONS} conns, no subscriptions | ${count(none.rps)}/s | ${ms(none.latency.p50)} | ${ms(none.latency.p95)} | ${ms(none.latency.p99)} | ${ms(none.latency.max)} | | |`,
    `| max creates/s at ${THROUGHPUT_CONNECTIONS} conns, with them (${(ratio * 100).toFixed(0)}% of none) | ${count(loaded.rps)}/s | ${ms(loaded.latency.p50)} | ${ms(loaded.latency.p95)} | ${ms(loaded.latency.p99)} | ${ms(loaded.latency.max)} | | |`,
  );
  return lines.join('\n');
}
