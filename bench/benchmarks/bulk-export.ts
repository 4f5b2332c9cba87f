import { describeOutcome } from '../lib/fhir-client.js';
import { sleep } from '../lib/net.js';
import { summarizeLatencies } from '../lib/stats.js';
import type { BenchContext, Benchmark } from './context.js';

const POLL_MS = 500;

interface Manifest {
  output: { type: string; url: string; count: number }[];
}

/** Kick-off and polling until the manifest: the status URL and the manifest. */
async function runExport(context: BenchContext): Promise<{ status: string; manifest: Manifest }> {
  const kickOff = await context.client.request('GET', '$export', undefined, { prefer: 'respond-async' });
  const status = kickOff.headers.get('content-location');
  if (kickOff.status !== 202 || !status) throw new Error(`$export kick-off: ${kickOff.status} ${describeOutcome(kickOff.text)}`);
  for (;;) {
    const answer = await context.client.request('GET', status, undefined, { accept: 'application/json' });
    if (answer.status === 200) return { status, manifest: JSON.parse(answer.text) as Manifest };
    if (answer.status !== 202) throw new Error(`$export status: ${answer.status} ${describeOutcome(answer.text)}`);
    await sleep(POLL_MS);
  }
}

/** Streams every file of the manifest and counts its bytes, keeping none of it. */
async function downloadAll(context: BenchContext, manifest: Manifest): Promise<number> {
  let bytes = 0;
  for (const file of manifest.output) {
    const response = await fetch(file.url, { headers: context.client.headers({ accept: 'application/fhir+ndjson' }) });
    if (response.status !== 200 || !response.body) throw new Error(`${file.url}: ${response.status}`);
    for await (const chunk of response.body) bytes += (chunk as Uint8Array).byteLength;
  }
  return bytes;
}

/**
 * A system-level `$export` of the whole data set, then every file downloaded: the server's RSS
 * growth in each phase (issue #6: at most +100 MB for 1,000,000 resources) and resources/s.
 */
export const bulkExport: Benchmark = {
  name: 'bulk-export',
  description: 'a system-level $export of the data set, then every file downloaded: resources/s and the server RSS growth',
  async run(context) {
    const server = context.server;
    if (!server) throw new Error('The server is not running');
    await context.ensureDataset();
    // Let the load's background work (statistics, audit records) settle, so idle is the server's own.
    await sleep(5_000);
    server.resetPeakRss();
    const idleMb = server.peakRssMb();
    let started = performance.now();
    const { status, manifest } = await runExport(context);
    const exportMs = performance.now() - started;
    const exportPeakMb = server.peakRssMb();
    const resources = manifest.output.reduce((sum, file) => sum + file.count, 0);

    server.resetPeakRss();
    started = performance.now();
    const bytes = await downloadAll(context, manifest);
    const downloadMs = performance.now() - started;
    const downloadPeakMb = server.peakRssMb();
    await context.client.request('DELETE', status);

    const row = context.row(
      { label: `system $export of ${resources.toLocaleString('en-US')} resources`, unitsPerRequest: resources },
      {
        connections: 1,
        durationSec: exportMs / 1000,
        requests: 1,
        rps: 1000 / exportMs,
        latency: summarizeLatencies([exportMs]),
        failures: 0,
        statusCounts: { 200: 1 },
      },
      Math.max(exportPeakMb, downloadPeakMb),
    );
    row.notes.push(
      `${manifest.output.length} files; export ${(exportMs / 1000).toFixed(1)} s, RSS ${Math.round(idleMb)} → ${Math.round(exportPeakMb)} MB ` +
        `(+${Math.round(exportPeakMb - idleMb)} MB); download of ${(bytes / 1024 / 1024).toFixed(0)} MB in ${(downloadMs / 1000).toFixed(1)} s, ` +
        `RSS peak ${Math.round(downloadPeakMb)} MB (+${Math.round(downloadPeakMb - idleMb)} MB)`,
    );
    context.extra.bulkExport = {
      resources,
      files: manifest.output.length,
      exportSeconds: exportMs / 1000,
      downloadSeconds: downloadMs / 1000,
      downloadMegabytes: bytes / 1024 / 1024,
      idleRssMb: idleMb,
      exportPeakRssMb: exportPeakMb,
      downloadPeakRssMb: downloadPeakMb,
    };
    context.addRow(row);
  },
};
