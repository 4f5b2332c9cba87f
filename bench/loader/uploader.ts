import { describeOutcome, type FhirClient } from '../lib/fhir-client.js';
import type { Progress } from '../lib/progress.js';
import { summarizeLatencies, type LatencySummary } from '../lib/stats.js';

/** One Bundle to POST to the base. */
export interface UploadJob {
  /** Where it came from, for reports: a file name, `file.ndjson lines 201-400`, `patient 12`. */
  source: string;
  /** The Bundle, as text or as an object to serialise when its turn comes. */
  body: string | object;
  resources: number;
  /** Progress units this job completes (bytes of input, or 1 per generated Bundle) for the ETA. */
  units: number;
  /** Names an entry for error reports, e.g. `line 37` of an NDJSON file. */
  entryLabel?: (index: number) => string;
}

export interface EntryError {
  source: string;
  /** Index in the Bundle's `entry`, when the error names one. */
  entry?: number;
  entryLabel?: string;
  status: string;
  diagnostics: string;
}

export interface UploadOptions {
  client: FhirClient;
  concurrency: number;
  progress?: Progress;
  /** Each error as it happens (the import command prints them above the progress line). */
  onError?: (error: EntryError) => void;
  /** Called on a 401 to get a new token (an expired one, in a long import); the Bundle is sent again. */
  refreshToken?: () => Promise<void>;
  /** Attempts for a Bundle that met a network error, 429 or 502-504 (back-off doubling from 1 s). */
  attempts?: number;
}

export interface UploadSummary {
  bundles: number;
  bundlesFailed: number;
  resources: number;
  resourcesFailed: number;
  seconds: number;
  /** Resources per second over the whole upload. */
  rate: number;
  /** Per Bundle, in milliseconds. */
  latency: LatencySummary;
  errors: EntryError[];
}

interface ResponseBundle {
  resourceType?: string;
  type?: string;
  entry?: { response?: { status?: string; outcome?: unknown } }[];
}

const ENTRY_IN_MESSAGE = /(?:Bundle\.)?entry\[(\d+)\]/;
const RETRY_STATUSES = new Set([429, 502, 503, 504]);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Uploads Bundles, `concurrency` at a time, pulling the next job only when a slot is free (so a
 * stream of a million resources is never held in memory). A failing Bundle or entry is reported
 * and the upload goes on; the summary says what failed.
 */
export async function upload(jobs: Iterable<UploadJob> | AsyncIterable<UploadJob>, options: UploadOptions): Promise<UploadSummary> {
  const iterator = Symbol.asyncIterator in jobs ? jobs[Symbol.asyncIterator]() : (jobs as Iterable<UploadJob>)[Symbol.iterator]();
  const summary = { bundles: 0, bundlesFailed: 0, resources: 0, resourcesFailed: 0 };
  const errors: EntryError[] = [];
  const latencies: number[] = [];
  const started = performance.now();
  const report = (error: EntryError) => {
    errors.push(error);
    options.onError?.(error);
  };

  const worker = async () => {
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      const job = next.value;
      const outcome = await uploadOne(job, options, report);
      summary.bundles++;
      if (outcome.ms !== undefined) latencies.push(outcome.ms);
      if (outcome.failed === job.resources) summary.bundlesFailed++;
      summary.resources += job.resources - outcome.failed;
      summary.resourcesFailed += outcome.failed;
      options.progress?.add(job.resources - outcome.failed, job.units, outcome.failed);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  const seconds = (performance.now() - started) / 1000;
  return { ...summary, seconds, rate: seconds > 0 ? summary.resources / seconds : 0, latency: summarizeLatencies(latencies), errors };
}

/** Sends one Bundle (retrying what is worth retrying); how many of its resources failed. */
async function uploadOne(job: UploadJob, options: UploadOptions, report: (error: EntryError) => void): Promise<{ failed: number; ms?: number }> {
  const body = typeof job.body === 'string' ? job.body : JSON.stringify(job.body);
  const attempts = options.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    let response;
    try {
      response = await options.client.request('POST', '', body, { prefer: 'return=minimal' });
    } catch (error) {
      if (attempt < attempts) {
        await sleep(1000 * 2 ** (attempt - 1));
        continue;
      }
      report({ source: job.source, status: 'network error', diagnostics: (error as Error).message });
      return { failed: job.resources };
    }
    if (response.status === 401 && options.refreshToken && attempt < attempts) {
      await options.refreshToken();
      continue;
    }
    if (RETRY_STATUSES.has(response.status) && attempt < attempts) {
      const retryAfter = Number(response.headers.get('retry-after'));
      await sleep(retryAfter > 0 ? retryAfter * 1000 : 1000 * 2 ** (attempt - 1));
      continue;
    }
    if (response.status >= 300) {
      // The whole Bundle failed (a transaction is all or nothing); the outcome may name the entry.
      const diagnostics = describeOutcome(response.text);
      const entry = ENTRY_IN_MESSAGE.exec(diagnostics);
      const index = entry ? Number(entry[1]) : undefined;
      report({
        source: job.source,
        entry: index,
        entryLabel: index !== undefined ? job.entryLabel?.(index) : undefined,
        status: String(response.status),
        diagnostics,
      });
      return { failed: job.resources, ms: response.ms };
    }
    return { failed: entryFailures(job, response.text, report), ms: response.ms };
  }
}

/** A batch answers 200 with a status per entry: the entries that are not 2xx. */
function entryFailures(job: UploadJob, text: string, report: (error: EntryError) => void): number {
  let bundle: ResponseBundle;
  try {
    bundle = JSON.parse(text) as ResponseBundle;
  } catch {
    return 0;
  }
  let failed = 0;
  (bundle.entry ?? []).forEach((entry, index) => {
    const status = entry.response?.status ?? '';
    if (/^2\d\d/.test(status)) return;
    failed++;
    report({
      source: job.source,
      entry: index,
      entryLabel: job.entryLabel?.(index),
      status: status || 'no status',
      diagnostics: describeOutcome(entry.response?.outcome as object | undefined),
    });
  });
  return failed;
}

export function formatEntryError(error: EntryError): string {
  const where = error.entry !== undefined ? ` entry[${error.entry}]${error.entryLabel ? ` (${error.entryLabel})` : ''}` : '';
  return `${error.source}${where}: ${error.status} ${error.diagnostics}`;
}
