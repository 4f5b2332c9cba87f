import type { Bundle, Observation, Resource } from '@medplum/fhirtypes';
import { DatasetGenerator, type PatientFacts } from '../generate/index.js';
import type { FhirClient } from '../lib/fhir-client.js';
import { Progress } from '../lib/progress.js';
import { jobsFromGenerator } from '../loader/generated.js';
import { formatEntryError, upload, type UploadSummary } from '../loader/uploader.js';

/** What the benchmarks know about the loaded data, regenerated from the seed rather than asked of the server. */
export interface Dataset {
  patients: number;
  seed: number;
  generator: DatasetGenerator;
  /** Patients spread over the whole population, for ids, names and codes in requests. */
  sample: PatientFacts[];
  /** `Type/id` of every resource of the sampled patients. */
  readTargets: string[];
  /** Observations of the sampled patients, as stored, for updates. */
  observations: Observation[];
  /** Quantity values seen per Observation code (`system|code`) in the sample. */
  quantities: Map<string, number[]>;
  /** How the data set was loaded in this run, if it was. */
  load?: UploadSummary;
}

/** Patient `index` of the data set is on the server (client ids: a read of its Patient tells). */
async function present(client: FhirClient, generator: DatasetGenerator, index: number): Promise<boolean> {
  const id = generator.patient(index).facts.id as string;
  const response = await client.request('GET', `Patient/${id}`);
  return response.status === 200;
}

/**
 * Makes sure the data set (BENCH_PATIENTS generated patients, client ids, written with PUT) is on
 * the server: if a run stopped half-way, or a kept database holds part of it, loading resumes
 * a little before the first patient missing (PUT makes that safe).
 */
export async function ensureDataset(client: FhirClient, options: { patients: number; seed: number; sample: number; concurrency: number }): Promise<Dataset> {
  const generator = new DatasetGenerator({ seed: options.seed, patients: options.patients, ids: 'client' });
  let load: UploadSummary | undefined;
  if (!(await present(client, generator, options.patients - 1))) {
    // The first patient missing, by bisection over what is present.
    let low = 0;
    let high = options.patients - 1;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      if (await present(client, generator, middle)) low = middle + 1;
      else high = middle;
    }
    const firstPatient = Math.max(0, low - options.concurrency * 2);
    const { jobs, totalUnits, estimatedResources } = jobsFromGenerator({ seed: options.seed, patients: options.patients, ids: 'client', firstPatient });
    const progress = new Progress({ label: 'loading data set', totalUnits });
    progress.log(
      `Loading the data set: patients ${firstPatient}..${options.patients - 1} of ${options.patients} (about ${estimatedResources.toLocaleString('en-US')} resources in all, seed ${options.seed})`,
    );
    load = await upload(jobs, { client, concurrency: options.concurrency, progress, onError: (error) => progress.log(`load error: ${formatEntryError(error)}`) });
    progress.finish();
    if (load.resourcesFailed) throw new Error(`Loading the data set failed for ${load.resourcesFailed} resources (first: ${formatEntryError(load.errors[0])})`);
  }

  const count = Math.min(options.sample, options.patients);
  const sample: PatientFacts[] = [];
  const readTargets: string[] = [];
  const observations: Observation[] = [];
  const quantities = new Map<string, number[]>();
  for (let k = 0; k < count; k++) {
    const index = Math.floor((k * options.patients) / count);
    const { bundle, facts } = generator.patient(index);
    sample.push(facts);
    for (const resource of resources(bundle)) {
      readTargets.push(`${resource.resourceType}/${resource.id}`);
      if (resource.resourceType !== 'Observation') continue;
      if (observations.length < 5000) observations.push(resource);
      const coding = resource.code?.coding?.[0];
      if (coding?.code && typeof resource.valueQuantity?.value === 'number') {
        const key = `${coding.system ?? ''}|${coding.code}`;
        let values = quantities.get(key);
        if (!values) quantities.set(key, (values = []));
        values.push(resource.valueQuantity.value);
      }
    }
  }
  return { patients: options.patients, seed: options.seed, generator, sample, readTargets, observations, quantities, load };
}

function resources(bundle: Bundle): Resource[] {
  return (bundle.entry ?? []).map((entry) => entry.resource as Resource);
}
