import { SYNTHEA_DIR } from '../lib/paths.js';
import { Progress } from '../lib/progress.js';
import { jobsFromGenerator } from '../loader/generated.js';
import { findInputFiles, jobsFromFiles } from '../loader/sources.js';
import { formatEntryError, upload, type UploadJob } from '../loader/uploader.js';
import type { Benchmark } from './context.js';

/**
 * Ingest through the loader: the 56 Synthea transaction Bundles as they are (POST, `urn:uuid:`
 * references), or BENCH_INGEST_PATIENTS generated patients (server ids, a new seed each pass so
 * nothing is an update), at each concurrency of BENCH_INGEST_CONNECTIONS.
 */
export const ingest: Benchmark = {
  name: 'ingest',
  description: 'Upload of the Synthea transaction Bundles (or BENCH_INGEST_PATIENTS generated patients): resources/s',
  async run(context) {
    await context.ensureDataset(); // the baseline reads its rows; and ingest into a non-empty database
    const server = context.server;
    if (!server) throw new Error('The server is not running');
    const patients = context.config.ingestPatients;
    for (const [pass, connections] of context.config.ingestConnections.entries()) {
      let jobs: Iterable<UploadJob> | AsyncIterable<UploadJob>;
      let totalUnits: number;
      let label: string;
      if (patients) {
        const generated = jobsFromGenerator({ seed: context.config.seed * 1000 + 100 + pass, patients, ids: 'server' });
        jobs = generated.jobs;
        totalUnits = generated.totalUnits;
        label = `ingest ${patients} generated patients`;
      } else {
        const files = await findInputFiles([SYNTHEA_DIR]);
        jobs = jobsFromFiles(files, { batchSize: 200, bundleType: 'transaction', onReadError: () => undefined });
        totalUnits = files.reduce((sum, f) => sum + f.bytes, 0);
        label = 'ingest Synthea Bundles';
      }
      const progress = new Progress({ label: `${label}, ${connections} in flight`, totalUnits });
      server.resetPeakRss();
      const summary = await upload(jobs, { client: context.client, concurrency: connections, progress, onError: (e) => progress.log(`error: ${formatEntryError(e)}`) });
      progress.finish();
      const row = context.row(
        { label, unitsPerRequest: 1, notes: summary.errors.slice(0, 3).map(formatEntryError) },
        {
          connections,
          durationSec: summary.seconds,
          requests: summary.bundles,
          rps: summary.bundles / summary.seconds,
          latency: summary.latency,
          failures: summary.bundlesFailed,
          statusCounts: {},
        },
        server.peakRssMb(),
      );
      row.unitsPerSecond = summary.rate;
      row.notes.push(`${summary.resources.toLocaleString('en-US')} resources in ${summary.bundles} Bundles, ${summary.seconds.toFixed(1)} s; req/s are Bundles/s, latency per Bundle`);
      const baseline = await context.baseline('insert', connections);
      row.baseline = { kind: 'insert', rps: baseline.rps, p50: baseline.latency.p50, p95: baseline.latency.p95, p99: baseline.latency.p99 };
      row.ratio = summary.rate / baseline.rps;
      context.addRow(row);
    }
  },
};
