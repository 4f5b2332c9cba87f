import { DatasetGenerator } from '../generate/index.js';
import { describeOutcome } from '../lib/fhir-client.js';
import { sleep } from '../lib/net.js';
import { summarizeLatencies } from '../lib/stats.js';
import type { Benchmark } from './context.js';

/** The Bundle's size (BENCH_BUNDLE_MB); the server's BODY_LIMIT is set a little above it. */
const BUNDLE_MB = Number(process.env.BENCH_BUNDLE_MB ?? 100);
/** What the transaction asks to be answered with (BENCH_BUNDLE_RETURN: `minimal`, or `representation`, the FHIR default). */
const RETURN = process.env.BENCH_BUNDLE_RETURN ?? 'minimal';
/** A seed of its own per run, so that a second run on the same database writes new patients. */
const SEED = 9000 + (Date.now() % 1000);

/**
 * One transaction Bundle of BUNDLE_MB of generated patients (POST entries, `urn:uuid:` references),
 * as text: entries are added patient by patient until the size is reached. Appointments are left
 * out: they book the pool's Slots, which would make the run measure the scheduling rules.
 */
function largeBundle(generator: DatasetGenerator, targetBytes: number): { text: string; entries: number } {
  const parts: string[] = [];
  let bytes = 0;
  let entries = 0;
  for (const { bundle } of generator.patientBundles()) {
    for (const entry of bundle.entry ?? []) {
      const json = JSON.stringify(entry);
      parts.push(json);
      bytes += Buffer.byteLength(json) + 1;
      entries += 1;
    }
    if (bytes >= targetBytes) break;
  }
  return { text: `{"resourceType":"Bundle","type":"transaction","entry":[${parts.join(',')}]}`, entries };
}

export const largeBundleBenchmark: Benchmark = {
  name: 'large-bundle',
  description: `POST one ~${BUNDLE_MB} MB transaction Bundle of generated patients: the server's RSS growth and resources/s`,
  serverEnv: { BODY_LIMIT: `${Math.ceil(BUNDLE_MB * 1.25) + 4}mb` },
  async run(context) {
    const server = context.server;
    if (!server) throw new Error('The server is not running');
    // Patients refer to the pool's Practitioners and Organizations: those are written first, apart.
    const generator = new DatasetGenerator({ seed: SEED, patients: 2000, ids: 'server', appointmentsPerPatient: 0 });
    for (const { bundle } of generator.poolBundles()) await context.client.send('POST', '', bundle, { prefer: 'return=minimal' });
    const { text, entries } = largeBundle(generator, BUNDLE_MB * 1024 * 1024);
    const megabytes = Buffer.byteLength(text) / 1024 / 1024;
    process.stderr.write(`sending ${megabytes.toFixed(1)} MB, ${entries.toLocaleString('en-US')} entries\n`);
    // Let the pool's writes and their background work settle, so the idle figure is the server's own.
    await sleep(3_000);
    server.resetPeakRss();
    const idleMb = server.peakRssMb();
    const response = await context.client.request('POST', '', text, { prefer: `return=${RETURN}` });
    const seconds = response.ms / 1000;
    const peakMb = server.peakRssMb();
    const failures = response.status === 200 ? 0 : 1;
    const row = context.row(
      { label: `transaction of ${megabytes.toFixed(0)} MB (return=${RETURN})`, unitsPerRequest: entries },
      {
        connections: 1,
        durationSec: seconds,
        requests: 1,
        rps: 1 / seconds,
        latency: summarizeLatencies([response.ms]),
        failures,
        statusCounts: { [response.status]: 1 },
      },
      peakMb,
    );
    row.notes.push(
      `${entries.toLocaleString('en-US')} entries in ${seconds.toFixed(1)} s; RSS ${Math.round(idleMb)} MB idle, ${Math.round(peakMb)} MB peak: ` +
        `+${Math.round(peakMb - idleMb)} MB`,
    );
    if (failures) row.notes.push(`answer ${response.status}: ${describeOutcome(response.text)}`);
    context.extra.largeBundle = { megabytes, entries, seconds, idleRssMb: idleMb, peakRssMb: peakMb, growthMb: peakMb - idleMb };
    context.addRow(row);
  },
};
