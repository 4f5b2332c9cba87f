import { expect } from 'vitest';
import { FHIR_BASE, fhirRequest, type FhirTestResponse, type TestServer } from '../support/test-server.js';

/** Helpers of the search-machinery tests (chaining, _has, _include, _sort, paging, compartments). */

export type Resource = { resourceType: string; id: string } & Record<string, unknown>;

/** Creates (or replaces) resources with the ids the test chose: `PUT [type]/[id]`, in order. */
export async function put(server: TestServer, ...resources: Resource[]): Promise<void> {
  for (const resource of resources) {
    const response = await fhirRequest(server.app, 'PUT', `/fhir/${resource.resourceType}/${resource.id}`, resource);
    expect([200, 201], `PUT ${resource.resourceType}/${resource.id}: ${response.text}`).toContain(response.status);
  }
}

/** Many resources in one batch of PUTs (for the paging-size tests). */
export async function putBatch(server: TestServer, resources: Resource[]): Promise<void> {
  const entry = resources.map((resource) => ({ resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` } }));
  const response = await fhirRequest(server.app, 'POST', '/fhir', { resourceType: 'Bundle', type: 'batch', entry });
  expect(response.status, response.text).toBe(200);
  for (const e of response.body.entry) expect(e.response.status, JSON.stringify(e.response)).toMatch(/^20[01]/);
}

export async function remove(server: TestServer, reference: string): Promise<void> {
  const response = await fhirRequest(server.app, 'DELETE', `/fhir/${reference}`);
  expect([200, 204], response.text).toContain(response.status);
}

/** A search that must succeed: the answer is a searchset Bundle. */
export async function searchOk(server: TestServer, url: string, headers: Record<string, string> = {}): Promise<FhirTestResponse> {
  const response = await fhirRequest(server.app, 'GET', url, undefined, headers);
  expect(response.status, `${url}: ${response.text}`).toBe(200);
  expect(response.body.resourceType).toBe('Bundle');
  expect(response.body.type).toBe('searchset');
  return response;
}

interface Entry {
  fullUrl?: string;
  resource: { resourceType: string; id: string; [key: string]: unknown };
  search?: { mode?: string };
}

export function entries(response: FhirTestResponse): Entry[] {
  return (response.body.entry ?? []) as Entry[];
}

const refOf = (entry: Entry) => `${entry.resource.resourceType}/${entry.resource.id}`;

/** The matches of a page, `Type/id`, in the order returned. */
export function matches(response: FhirTestResponse): string[] {
  return entries(response).filter((e) => e.search?.mode === 'match').map(refOf);
}

/** The included resources of a page, `Type/id`, sorted (their order is not specified). */
export function included(response: FhirTestResponse): string[] {
  return entries(response).filter((e) => e.search?.mode === 'include').map(refOf).sort();
}

/** The ids (without type) of a page's matches, in order. */
export function matchIds(response: FhirTestResponse): string[] {
  return entries(response).filter((e) => e.search?.mode === 'match').map((e) => e.resource.id);
}

/** The OperationOutcome entry (search.mode = outcome) of a page, if any. */
export function outcomeEntry(response: FhirTestResponse): { issue: { severity: string; diagnostics?: string }[] } | undefined {
  return entries(response).find((e) => e.search?.mode === 'outcome')?.resource as never;
}

/** The URL of a Bundle link, relative to the server (what a test sends next), or undefined. */
export function link(response: FhirTestResponse, relation: string): string | undefined {
  const found = (response.body.link ?? []).find((l: { relation: string }) => l.relation === relation) as { url: string } | undefined;
  if (!found) return undefined;
  expect(found.url.startsWith(`${FHIR_BASE}/`) || found.url.startsWith(`${FHIR_BASE}?`), found.url).toBe(true);
  return found.url.slice(FHIR_BASE.length - '/fhir'.length);
}

/** Follows `next` from the first page to the last; each page's match ids. */
export async function followNext(server: TestServer, url: string, maxPages = 200): Promise<{ pages: string[][]; responses: FhirTestResponse[] }> {
  const pages: string[][] = [];
  const responses: FhirTestResponse[] = [];
  let next: string | undefined = url;
  while (next) {
    const response = await searchOk(server, next);
    responses.push(response);
    pages.push(matchIds(response));
    next = link(response, 'next');
    if (pages.length > maxPages) throw new Error(`more than ${maxPages} pages: the next links go round in circles`);
  }
  return { pages, responses };
}

/** The text of an OperationOutcome's issues. */
export function issueText(response: FhirTestResponse): string {
  return (response.body?.issue ?? [])
    .map((issue: { diagnostics?: string; details?: { text?: string } }) => `${issue.details?.text ?? ''} ${issue.diagnostics ?? ''}`)
    .join(' ');
}

/** A 400 answer with an OperationOutcome that reports an error. */
export async function expectBadRequest(server: TestServer, url: string, headers: Record<string, string> = {}): Promise<FhirTestResponse> {
  const response = await fhirRequest(server.app, 'GET', url, undefined, headers);
  expect(response.status, `${url}: ${response.text}`).toBe(400);
  expect(response.body?.resourceType).toBe('OperationOutcome');
  expect(['error', 'fatal']).toContain(response.body.issue[0].severity);
  return response;
}

export const STRICT = { prefer: 'handling=strict' };

export async function tick(ms = 3): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

// Resource builders: only what each type requires to validate, plus what the test gives.

export const patient = (id: string, extra: Record<string, unknown> = {}): Resource => ({ resourceType: 'Patient', id, ...extra });

export const named = (family: string, given?: string) => ({ name: [{ family, ...(given ? { given: [given] } : {}) }] });

export const practitioner = (id: string, family: string, extra: Record<string, unknown> = {}): Resource => ({
  resourceType: 'Practitioner',
  id,
  name: [{ family }],
  ...extra,
});

export const organization = (id: string, name: string): Resource => ({ resourceType: 'Organization', id, name });

export const ref = (reference: string) => ({ reference });

export const LOINC = 'http://loinc.org';

export const observation = (id: string, code: string, extra: Record<string, unknown> = {}): Resource => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  code: { coding: [{ system: LOINC, code }] },
  ...extra,
});

export const encounter = (id: string, extra: Record<string, unknown> = {}): Resource => ({
  resourceType: 'Encounter',
  id,
  status: 'finished',
  class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
  ...extra,
});
