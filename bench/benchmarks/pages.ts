import type { Benchmark, BenchContext } from './context.js';
import { explainExamples } from './explain.js';
import { checkSearch, describeCheck } from './searchset.js';

const VITAL_SIGNS = 'category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs';

/** Checks and explains each search once, then measures it; the same URL for every request. */
async function measureSearches(context: BenchContext, name: string, searches: { label: string; path: string }[]): Promise<void> {
  await context.ensureDataset();
  const notes = new Map<string, string[]>();
  for (const { label, path } of searches) notes.set(label, [`GET ${path}`, ...describeCheck(await checkSearch(context.client, path))]);
  const explained = await explainExamples(context.db, context.client, name, searches, notes);
  if (explained) {
    context.extra.explain = { ...(context.extra.explain as object | undefined), [name]: explained.reports };
    context.extra.explainFiles = [...((context.extra.explainFiles as string[] | undefined) ?? []), explained.file];
  }
  for (const { label, path } of searches) {
    await context.measure({ label, baseline: 'read', notes: notes.get(label), next: () => ({ method: 'GET', path: `/fhir/${path}` }) });
  }
}

export const searchPage: Benchmark = {
  name: 'search-page',
  description: 'A first search page of 20 and of 100 Observations (vital signs)',
  run: (context) =>
    measureSearches(context, 'search-page', [
      { label: 'search page of 20', path: `Observation?${VITAL_SIGNS}&_count=20` },
      { label: 'search page of 100', path: `Observation?${VITAL_SIGNS}&_count=100` },
    ]),
};

export const include: Benchmark = {
  name: 'include',
  description: 'A page of 20 Observations with _include of their Patient and Encounter',
  run: (context) =>
    measureSearches(context, 'include', [
      { label: 'page of 20 with _include', path: `Observation?${VITAL_SIGNS}&_count=20&_include=Observation:patient&_include=Observation:encounter` },
    ]),
};
