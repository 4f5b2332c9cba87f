/**
 * `npm run import -- <files or folders> [--url URL] [--token T | --client-id I --client-secret S] [--concurrency N]`
 * `npm run import -- --generate 5000 [--seed 1] [--ids server|client]`
 *
 * Uploads transaction/batch Bundles (one per file) and NDJSON (grouped into Bundles) to a FHIR
 * server, in parallel, with a progress line on stderr, every failed entry reported, and a summary.
 * Exit code 0 when everything was stored, 1 when anything failed, 2 for a usage error.
 */
import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { FhirClient } from './lib/fhir-client.js';
import { Progress, formatDuration } from './lib/progress.js';
import { clientCredentialsToken } from './lib/token.js';
import { jobsFromGenerator } from './loader/generated.js';
import { findInputFiles, jobsFromFiles } from './loader/sources.js';
import { formatEntryError, upload, type EntryError, type UploadJob } from './loader/uploader.js';

const USAGE = `Usage:
  npm run import -- <file or folder>... [options]
  npm run import -- --generate <patients> [options]

Inputs: .json files holding a transaction or batch Bundle (sent as they are), another Bundle or a
single resource (grouped), and .ndjson/.jsonl files, one resource a line (grouped into Bundles:
PUT Type/id when the resource has an id, else POST). Folders are searched recursively.

Options:
  --url <base>          FHIR base URL (default $FHIR_URL or http://localhost:8080/fhir)
  --token <token>       bearer token sent with every request (default $FHIR_TOKEN or $BENCH_TOKEN)
  --client-id <id>      or get a token with client_credentials (SMART Backend Services, client secret);
  --client-secret <s>     also $FHIR_CLIENT_ID / $FHIR_CLIENT_SECRET; renewed when it expires
  --scope <scopes>      scopes to ask for (default system/*.cruds)
  --concurrency <n>     Bundles in flight at once (default 4)
  --batch-size <n>      resources per Bundle built from NDJSON or loose resources (default 200)
  --type <t>            transaction (default) or batch, for the Bundles the loader builds
  --errors <file>       also write every error as a JSON line to this file
  --generate <n>        upload n generated patients (about 175 resources each) instead of files
  --seed <n>            generator seed (default 1): the same seed gives the same data
  --ids <mode>          server (default: POST with urn:uuid, as Synthea) or client (PUT Type/id)
  --first-patient <i>   generate patients i..n-1 only (resume a load; the pool is skipped)
  --quiet               no progress line
  --help
`;

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}`);
  process.exit(2);
}

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) fail(`--${name} must be a whole number, not "${value}"`);
  return n;
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        token: { type: 'string' },
        'client-id': { type: 'string' },
        'client-secret': { type: 'string' },
        scope: { type: 'string' },
        concurrency: { type: 'string' },
        'batch-size': { type: 'string' },
        type: { type: 'string' },
        errors: { type: 'string' },
        generate: { type: 'string' },
        seed: { type: 'string' },
        ids: { type: 'string' },
        'first-patient': { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    });
  } catch (error) {
    fail((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const generate = values.generate !== undefined ? positiveInt(values.generate, 'generate', 0) : undefined;
  if (generate === undefined && positionals.length === 0) fail('Nothing to import: name files or folders, or --generate <patients>.');
  if (generate !== undefined && positionals.length > 0) fail('Give files or --generate, not both.');
  const bundleType = values.type ?? 'transaction';
  if (bundleType !== 'transaction' && bundleType !== 'batch') fail('--type must be transaction or batch');
  const ids = values.ids ?? 'server';
  if (ids !== 'server' && ids !== 'client') fail('--ids must be server or client');

  const baseUrl = values.url ?? process.env.FHIR_URL ?? 'http://localhost:8080/fhir';
  const client = new FhirClient({ baseUrl, token: values.token ?? process.env.FHIR_TOKEN ?? process.env.BENCH_TOKEN });
  const clientId = values['client-id'] ?? process.env.FHIR_CLIENT_ID;
  const clientSecret = values['client-secret'] ?? process.env.FHIR_CLIENT_SECRET;
  let refreshToken: (() => Promise<void>) | undefined;
  if (clientId && clientSecret) {
    refreshToken = async () => client.setToken(await clientCredentialsToken(baseUrl, clientId, clientSecret, values.scope));
    await refreshToken().catch((error: Error) => fail(error.message));
  } else if (clientId || clientSecret) fail('--client-id and --client-secret go together');
  const concurrency = Math.max(1, positiveInt(values.concurrency, 'concurrency', 4));
  const errorFile = values.errors ? createWriteStream(values.errors) : undefined;
  let printed = 0;
  let progress: Progress | undefined;
  const onError = (error: EntryError) => {
    errorFile?.write(`${JSON.stringify(error)}\n`);
    // The first hundred on the terminal; all of them in --errors.
    if (++printed <= 100) (progress ? progress.log.bind(progress) : console.error)(`error: ${formatEntryError(error)}`);
    else if (printed === 101) (progress ? progress.log.bind(progress) : console.error)('error: more errors follow; see --errors <file> for all of them');
  };

  let jobs: Iterable<UploadJob> | AsyncIterable<UploadJob>;
  const readErrors: EntryError[] = [];
  if (generate !== undefined) {
    const seed = positiveInt(values.seed, 'seed', 1);
    const generated = jobsFromGenerator({ seed, patients: generate, ids, firstPatient: positiveInt(values['first-patient'], 'first-patient', 0) });
    progress = new Progress({ label: 'import', totalUnits: generated.totalUnits, silent: values.quiet });
    progress.log(`Generating ${generate.toLocaleString('en-US')} patients (about ${generated.estimatedResources.toLocaleString('en-US')} resources, seed ${seed}, ${ids} ids) into ${baseUrl}`);
    jobs = generated.jobs;
  } else {
    const files = await findInputFiles(positionals).catch((error: Error) => fail(error.message));
    if (files.length === 0) fail('No .json, .ndjson or .jsonl files found.');
    const bytes = files.reduce((sum, f) => sum + f.bytes, 0);
    progress = new Progress({ label: 'import', totalUnits: bytes, silent: values.quiet });
    progress.log(`Importing ${files.length} file(s), ${(bytes / 1e6).toFixed(1)} MB, into ${baseUrl}`);
    jobs = jobsFromFiles(files, {
      batchSize: Math.max(1, positiveInt(values['batch-size'], 'batch-size', 200)),
      bundleType,
      onReadError: (error) => {
        readErrors.push(error);
        onError(error);
      },
    });
  }

  const summary = await upload(jobs, { client, concurrency, progress, onError, refreshToken });
  progress.finish();
  await new Promise<void>((resolve) => (errorFile ? errorFile.end(resolve) : resolve()));

  const failed = summary.resourcesFailed + readErrors.length;
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  console.log(
    [
      `Bundles:   ${n(summary.bundles)} sent, ${n(summary.bundlesFailed)} failed`,
      `Resources: ${n(summary.resources)} stored, ${n(failed)} failed${readErrors.length ? ` (${readErrors.length} unreadable)` : ''}`,
      `Time:      ${formatDuration(summary.seconds)} (${summary.seconds.toFixed(1)} s), ${n(summary.rate)} resources/s with ${concurrency} in flight`,
      `Per Bundle: p50 ${summary.latency.p50.toFixed(0)} ms, p95 ${summary.latency.p95.toFixed(0)} ms, p99 ${summary.latency.p99.toFixed(0)} ms`,
      failed ? `FAILED: ${n(summary.errors.length)} error(s)${values.errors ? `, all in ${values.errors}` : ''}` : 'OK',
    ].join('\n'),
  );
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
