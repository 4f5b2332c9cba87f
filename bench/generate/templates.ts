import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';

/** One Synthea patient Bundle, read once and never changed: each generated patient is a transformed copy. */
export interface Template {
  file: string;
  entries: BundleEntry[];
  /** The resource type behind each `urn:uuid:` of the Bundle, to write `Type/id` references. */
  typeOfUuid: Map<string, string>;
}

const URN_UUID = 'urn:uuid:';

/** Every `*.json` transaction Bundle in the folder, sorted by file name so the order is the same everywhere. */
export function loadTemplates(dir: string): Template[] {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort();
  const templates: Template[] = [];
  for (const file of files) {
    const bundle = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Bundle;
    if (bundle.resourceType !== 'Bundle' || !bundle.entry?.length) continue;
    const typeOfUuid = new Map<string, string>();
    for (const entry of bundle.entry) {
      const resource = entry.resource as Resource | undefined;
      if (!resource) continue;
      if (entry.fullUrl?.startsWith(URN_UUID)) typeOfUuid.set(entry.fullUrl.slice(URN_UUID.length), resource.resourceType);
      if (resource.id) typeOfUuid.set(resource.id, resource.resourceType);
    }
    templates.push({ file, entries: bundle.entry, typeOfUuid });
  }
  if (templates.length === 0) throw new Error(`No template Bundles (*.json) in ${dir}`);
  return templates;
}
