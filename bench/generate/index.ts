import type { Bundle, BundleEntry } from '@medplum/fhirtypes';
import { SYNTHEA_DIR } from '../lib/paths.js';
import { PatientGenerator, type GeneratedPatient, type IdMode } from './patient.js';
import { defaultPoolSizes, Pool, type PoolSizes } from './pool.js';
import { loadTemplates, type Template } from './templates.js';

export { ANCHOR_DATE } from './dates.js';
export { MRN_SYSTEM, type GeneratedPatient, type IdMode, type PatientFacts } from './patient.js';
export type { Pool } from './pool.js';

export interface GeneratorOptions {
  /** Same seed, same data. */
  seed: number;
  patients: number;
  /** `server` (default): POST entries with `urn:uuid:` full URLs, as Synthea writes them. `client`: PUT Type/id with our ids. */
  ids?: IdMode;
  /** The first patient's index, to generate a slice of a larger population (e.g. to resume). */
  firstPatient?: number;
  appointmentsPerPatient?: number;
  pool?: Partial<PoolSizes>;
  templatesDir?: string;
  /** The most entries in one of the pool's Bundles (default: the whole pool in one). */
  poolBundleSize?: number;
}

/** One transaction Bundle to upload, with a name for progress and error reports. */
export interface GeneratedBundle {
  label: string;
  bundle: Bundle;
  resources: number;
}

let cachedTemplates: { dir: string; templates: Template[] } | undefined;

function templatesFrom(dir: string): Template[] {
  if (cachedTemplates?.dir !== dir) cachedTemplates = { dir, templates: loadTemplates(dir) };
  return cachedTemplates.templates;
}

/**
 * N patients' worth of resources built from the Synthea templates, as a stream of transaction
 * Bundles: first the shared pool (organisations, practitioners, schedules, slots), then one Bundle
 * per patient (about 175 resources each; ~5,700 patients make 1,000,000 resources). Patient `i` is
 * the same for a given seed and population size however the stream is sliced, so a benchmark can
 * regenerate any patient to learn its ids, names and codes.
 */
export class DatasetGenerator {
  readonly pool: Pool;
  private readonly patients: PatientGenerator;

  constructor(readonly options: GeneratorOptions) {
    const templates = templatesFrom(options.templatesDir ?? SYNTHEA_DIR);
    this.pool = new Pool(options.seed, { ...defaultPoolSizes(options.patients), ...options.pool });
    this.patients = new PatientGenerator(options.seed, templates, this.pool, options.ids ?? 'server', options.appointmentsPerPatient ?? 3);
  }

  patient(index: number): GeneratedPatient {
    return this.patients.generate(index);
  }

  /** About how many resources the whole stream holds (templates average ~175 resources a patient). */
  estimatedResources(): number {
    return this.pool.resourceCount + this.options.patients * 175;
  }

  /**
   * The pool's Bundles. Its resources refer to each other (a Slot to its Schedule, which the server
   * checks), so by default it is one transaction: parts sent in parallel could arrive out of order.
   */
  *poolBundles(): Generator<GeneratedBundle> {
    const size = this.options.poolBundleSize ?? Number.POSITIVE_INFINITY;
    let entries: BundleEntry[] = [];
    let part = 0;
    const flush = (): GeneratedBundle => {
      const bundle: GeneratedBundle = {
        label: `pool part ${++part}`,
        bundle: { resourceType: 'Bundle', type: 'transaction', entry: entries },
        resources: entries.length,
      };
      entries = [];
      return bundle;
    };
    for (const entry of this.pool.entries()) {
      entries.push(entry);
      if (entries.length >= size) yield flush();
    }
    if (entries.length) yield flush();
  }

  *patientBundles(): Generator<GeneratedBundle> {
    for (let i = this.options.firstPatient ?? 0; i < this.options.patients; i++) {
      const { bundle, facts } = this.patient(i);
      yield { label: `patient ${i} (${facts.mrn})`, bundle, resources: facts.resources };
    }
  }

  /** The pool (unless resuming past patient 0), then every patient. */
  *bundles(): Generator<GeneratedBundle> {
    if (!this.options.firstPatient) yield* this.poolBundles();
    yield* this.patientBundles();
  }
}
