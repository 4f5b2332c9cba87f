import type { BundleLink, OperationOutcome } from '@medplum/fhirtypes';

/**
 * Bundles are assembled as JSON text: each entry's resource is the stored text, inserted as is,
 * so a page of results is never parsed and re-serialised.
 */
export interface EntryParts {
  fullUrl?: string;
  /** The resource as JSON text, or as an object to serialise. */
  resourceJson?: string;
  resource?: object;
  search?: { mode: 'match' | 'include' | 'outcome' };
  request?: { method: string; url: string };
  response?: { status: string; location?: string; etag?: string; lastModified?: string; outcome?: OperationOutcome };
}

export function entryJson(entry: EntryParts): string {
  const parts: string[] = [];
  if (entry.fullUrl) parts.push(`"fullUrl":${JSON.stringify(entry.fullUrl)}`);
  if (entry.resourceJson !== undefined) parts.push(`"resource":${entry.resourceJson}`);
  else if (entry.resource) parts.push(`"resource":${JSON.stringify(entry.resource)}`);
  if (entry.search) parts.push(`"search":${JSON.stringify(entry.search)}`);
  if (entry.request) parts.push(`"request":${JSON.stringify(entry.request)}`);
  if (entry.response) parts.push(`"response":${JSON.stringify(entry.response)}`);
  return `{${parts.join(',')}}`;
}

function bundleFields(head: { type: string; total?: number; link?: BundleLink[] }): string[] {
  const fields = [`"resourceType":"Bundle"`, `"id":${JSON.stringify(crypto.randomUUID())}`];
  fields.push(`"meta":{"lastUpdated":${JSON.stringify(new Date().toISOString())}}`);
  fields.push(`"type":${JSON.stringify(head.type)}`);
  if (head.total !== undefined) fields.push(`"total":${head.total}`);
  if (head.link?.length) fields.push(`"link":${JSON.stringify(head.link)}`);
  return fields;
}

export function bundleJson(head: { type: string; total?: number; link?: BundleLink[] }, entries: string[]): string {
  const fields = bundleFields(head);
  // FHIR JSON has no empty arrays (json.html): an empty page, `_summary=count`, `_count=0` have no `entry`.
  if (entries.length) fields.push(`"entry":[${entries.join(',')}]`);
  return `{${fields.join(',')}}`;
}

/** The text before and after the entries of a Bundle that has some, for one sent entry by entry. */
export function bundleFrame(head: { type: string }): { before: string; after: string } {
  return { before: `{${[...bundleFields(head), '"entry":['].join(',')}`, after: ']}' };
}

/** A link to the same interaction with other parameters (paging). */
export function pageUrl(baseUrl: string, path: string, query: URLSearchParams, changes: Record<string, string | undefined>): string {
  const params = new URLSearchParams(query);
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) params.delete(name);
    else params.set(name, value);
  }
  const qs = params.toString();
  // A system-level search is `[base]?...`, not `[base]/?...`.
  return `${baseUrl}${path ? `/${path}` : ''}${qs ? `?${qs}` : ''}`;
}
