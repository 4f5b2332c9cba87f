import { ANCHOR_DATE, MRN_SYSTEM, type PatientFacts } from '../generate/index.js';
import { Random } from '../lib/random.js';
import { percentile } from '../lib/stats.js';
import type { Benchmark, BenchContext } from './context.js';
import type { Dataset } from './dataset.js';
import { explainExamples } from './explain.js';
import { checkSearch, describeCheck, pathOf } from './searchset.js';

/** One search of issue #3's list: a label and a query (relative to the base) varied per request. */
interface SearchQuery {
  label: string;
  make: (random: Random) => string;
}

const enc = encodeURIComponent;

function mostFrequent(counts: Map<string, number>): string | undefined {
  let best: string | undefined;
  let bestCount = 0;
  for (const [key, count] of counts) if (count > bestCount) [best, bestCount] = [key, count];
  return best;
}

/** The searches, with parameter values drawn from the sampled patients so that each finds something. */
function queries(dataset: Dataset): SearchQuery[] {
  const sample = dataset.sample;
  const withConditions = sample.filter((p) => p.conditionCodes.length > 0);
  const birthDates = sample.map((p) => p.birthDate ?? '1970-01-01').sort();
  const youngest = birthDates[Math.floor(birthDates.length * 0.9)] ?? birthDates[birthDates.length - 1];
  // The measured code with the most values, and one of the least measured (with at least 20 values
  // in the sample), each with a threshold that about 5% of its values exceed.
  const byCount = [...dataset.quantities.entries()].sort((a, b) => b[1].length - a[1].length);
  const [quantityCode, values] = byCount[0] ?? ['http://loinc.org|29463-7', [100]];
  const threshold = percentile(values, 95);
  const [rareQuantityCode, rareValues] = byCount.filter(([, v]) => v.length >= 20).pop() ?? [quantityCode, values];
  const rareThreshold = percentile(rareValues, 95);
  // Condition codes that one or two of the sampled patients have (the common ones: thousands of patients at 1M).
  const conditionHolders = new Map<string, number>();
  for (const p of withConditions) for (const code of new Set(p.conditionCodes)) conditionHolders.set(code, (conditionHolders.get(code) ?? 0) + 1);
  const rareConditions = [...conditionHolders].filter(([, holders]) => holders <= 2).map(([code]) => code);
  const patient = (random: Random): PatientFacts => random.pick(sample);
  return [
    { label: 'Patient?name=', make: (r) => `Patient?name=${enc(patient(r).family)}` },
    { label: 'Patient?identifier=system|value', make: (r) => `Patient?identifier=${enc(`${MRN_SYSTEM}|${patient(r).mrn}`)}` },
    { label: 'Patient?birthdate=ge', make: () => `Patient?birthdate=ge${youngest}` },
    {
      label: 'Observation?patient&code&date&_sort=-date',
      make: (r) => {
        const p = patient(r);
        const code = mostFrequent(p.observationCodes) ?? 'http://loinc.org|29463-7';
        return `Observation?patient=Patient/${p.id}&code=${enc(code)}&date=ge2010-01-01&_sort=-date&_count=20`;
      },
    },
    { label: 'Observation?code&value-quantity=gt, common code', make: () => `Observation?code=${enc(quantityCode)}&value-quantity=gt${threshold}` },
    { label: 'Observation?code&value-quantity=gt, rare code', make: () => `Observation?code=${enc(rareQuantityCode)}&value-quantity=gt${rareThreshold}` },
    { label: 'Encounter?patient&_revinclude=Obs:encounter', make: (r) => `Encounter?patient=Patient/${patient(r).id}&_revinclude=Observation:encounter` },
    {
      label: 'Appointment?actor&date=ge&status=booked',
      make: (r) => `Appointment?actor=Practitioner/${patient(r).practitionerId}&date=ge${ANCHOR_DATE}&status=booked`,
    },
    {
      label: 'Slot?schedule.actor&status=free&start=ge',
      make: (r) => `Slot?schedule.actor=Practitioner/${patient(r).practitionerId}&status=free&start=ge${ANCHOR_DATE}`,
    },
    {
      label: 'chained subject:Patient.identifier',
      make: (r) => `Observation?subject:Patient.identifier=${enc(`${MRN_SYSTEM}|${patient(r).mrn}`)}&_count=20`,
    },
    {
      label: '_has:Condition:patient:code, any code',
      make: (r) => `Patient?_has:Condition:patient:code=${enc(r.pick(r.pick(withConditions.length ? withConditions : sample).conditionCodes) ?? 'http://snomed.info/sct|15777000')}&_count=20`,
    },
    {
      label: '_has:Condition:patient:code, rare code',
      make: (r) => `Patient?_has:Condition:patient:code=${enc(rareConditions.length ? r.pick(rareConditions) : 'http://snomed.info/sct|15777000')}&_count=20`,
    },
  ];
}

/** Follows `next` links from the first page to page `page` (or the last there is). */
async function pageUrl(context: BenchContext, first: string, page: number): Promise<{ path: string; reached: number }> {
  let url = first;
  let reached = 1;
  while (reached < page) {
    const check = await checkSearch(context.client, url);
    if (!check.next) break;
    url = pathOf(check.next).replace(/^\/fhir\//, '');
    reached++;
  }
  return { path: url, reached };
}

export const search: Benchmark = {
  name: 'search',
  description: "Issue #3's search set, with EXPLAIN (ANALYZE, BUFFERS) of the server's own SQL",
  async run(context) {
    const dataset = await context.ensureDataset();
    const list = queries(dataset);
    const pageTarget = Number(process.env.BENCH_PAGE ?? 50);
    const deep = await pageUrl(context, 'Observation?status=final&_count=20', pageTarget);
    const deepLabel = `page ${deep.reached} of Observation?status=final`;
    list.push({ label: deepLabel, make: () => deep.path });

    // A representative instance of each query, checked and explained before the load.
    const examples = list.map((query) => ({ label: query.label, path: query.make(new Random(context.config.seed, 'example', query.label)) }));
    const checks = new Map<string, string[]>();
    for (const example of examples) checks.set(example.label, [`e.g. GET ${example.path}`, ...describeCheck(await checkSearch(context.client, example.path))]);
    if (deep.reached < pageTarget) checks.get(deepLabel)?.push(`only ${deep.reached} pages exist; measured the last one`);

    const explained = await explainExamples(context.db, context.client, 'search', examples, checks);
    if (explained) {
      context.extra.explain = { ...(context.extra.explain as object | undefined), search: explained.reports };
      context.extra.explainFiles = [...((context.extra.explainFiles as string[] | undefined) ?? []), explained.file];
    }

    for (const query of list) {
      await context.measure({ label: query.label, baseline: 'read', notes: checks.get(query.label), next: (random) => ({ method: 'GET', path: `/fhir/${query.make(random)}` }) });
    }
  },
};
