import { DatasetGenerator, type GeneratorOptions } from '../generate/index.js';
import type { UploadJob } from './uploader.js';

/** Upload jobs for generated data: one per Bundle (pool parts, then patients); one progress unit each. */
export function jobsFromGenerator(options: GeneratorOptions): { jobs: Iterable<UploadJob>; totalUnits: number; estimatedResources: number } {
  const generator = new DatasetGenerator(options);
  const poolBundles = options.firstPatient ? 0 : Math.ceil(generator.pool.resourceCount / (options.poolBundleSize ?? generator.pool.resourceCount));
  function* jobs(): Generator<UploadJob> {
    for (const generated of generator.bundles()) {
      const entries = generated.bundle.entry ?? [];
      yield {
        source: generated.label,
        body: generated.bundle,
        resources: generated.resources,
        units: 1,
        entryLabel: (index) => {
          const entry = entries[index];
          return entry?.request ? `${entry.request.method} ${entry.request.url}` : `entry ${index}`;
        },
      };
    }
  }
  return {
    jobs: jobs(),
    totalUnits: poolBundles + options.patients - (options.firstPatient ?? 0),
    estimatedResources: generator.estimatedResources(),
  };
}
