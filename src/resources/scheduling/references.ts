import type { Reference } from '@medplum/fhirtypes';

export interface LocalReference {
  resourceType: string;
  id: string;
}

const RELATIVE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/**
 * The resource a reference points to on this server: `Type/id` (a version is ignored), or the same
 * under our base URL. Anything else (another server, a contained `#id`, an identifier) is undefined.
 */
export function localReference(reference: Reference | string | undefined, baseUrl: string): LocalReference | undefined {
  const text = typeof reference === 'string' ? reference : reference?.reference;
  if (!text) return undefined;
  const relative = text.startsWith(`${baseUrl}/`) ? text.slice(baseUrl.length + 1) : text;
  const match = RELATIVE.exec(relative);
  return match ? { resourceType: match[1], id: match[2] } : undefined;
}

export function referenceText(ref: LocalReference): string {
  return `${ref.resourceType}/${ref.id}`;
}

/** Sorted and without duplicates: locks are always taken in this order, so two writers cannot deadlock on them. */
export function sortedUnique(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}
