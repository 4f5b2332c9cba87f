/**
 * `npm run generate -- --patients 100 --out ./generated [--seed 1] [--ids server|client] [--ndjson]`
 *
 * Writes generated data to files, for `npm run import` or another server: one transaction Bundle
 * per file (pool parts, then one per patient), or with --ndjson one `<Type>.ndjson` per resource
 * type (client ids, as a bulk export would have them).
 */
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Resource } from '@medplum/fhirtypes';
import { DatasetGenerator } from './index.js';

const { values } = parseArgs({
  options: {
    patients: { type: 'string', default: '10' },
    out: { type: 'string', default: 'generated' },
    seed: { type: 'string', default: '1' },
    ids: { type: 'string', default: 'server' },
    ndjson: { type: 'boolean', default: false },
  },
});
const patients = Number(values.patients);
const seed = Number(values.seed);
if (!Number.isInteger(patients) || patients < 1 || !Number.isInteger(seed)) {
  console.error('--patients and --seed must be whole numbers');
  process.exit(2);
}
const ndjson = values.ndjson ?? false;
if (values.ids !== 'server' && values.ids !== 'client') {
  console.error('--ids must be server or client');
  process.exit(2);
}
const generator = new DatasetGenerator({ seed, patients, ids: ndjson ? 'client' : values.ids });
const out = values.out ?? 'generated';
mkdirSync(out, { recursive: true });

let files = 0;
let resources = 0;
if (ndjson) {
  const streams = new Map<string, WriteStream>();
  for (const { bundle } of generator.bundles()) {
    for (const entry of bundle.entry ?? []) {
      const resource = entry.resource as Resource;
      let stream = streams.get(resource.resourceType);
      if (!stream) streams.set(resource.resourceType, (stream = createWriteStream(path.join(out, `${resource.resourceType}.ndjson`))));
      stream.write(`${JSON.stringify(resource)}\n`);
      resources++;
    }
  }
  await Promise.all([...streams.values()].map((s) => new Promise((resolve) => s.end(resolve))));
  files = streams.size;
} else {
  let n = 0;
  for (const { label, bundle, resources: count } of generator.bundles()) {
    const name = `${String(n++).padStart(6, '0')}-${label.replace(/[^A-Za-z0-9-]+/g, '_')}.json`;
    writeFileSync(path.join(out, name), JSON.stringify(bundle));
    files++;
    resources += count;
  }
}
console.log(`Wrote ${resources.toLocaleString('en-US')} resources in ${files} files to ${out}`);
