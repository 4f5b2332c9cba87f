import { expect } from 'vitest';
import { fhirRequest, type FhirTestResponse, type TestServer } from '../support/test-server.js';

/**
 * Helpers of the search specification tests: resources are created under labels, and a search's
 * matches are compared, as a set of labels, with the set the specification says it must return.
 */

export type Fixture = Record<string, unknown> & { resourceType: string; id?: string };

/** Ids by label. */
export type Ids = Record<string, string>;

/** Creates one resource: PUT when it has an id (update as create), POST otherwise. Returns the stored resource. */
export async function createResource(server: TestServer, resource: Fixture): Promise<Record<string, any>> {
  const response = resource.id
    ? await fhirRequest(server.app, 'PUT', `/fhir/${resource.resourceType}/${resource.id}`, resource)
    : await fhirRequest(server.app, 'POST', `/fhir/${resource.resourceType}`, resource);
  expect([200, 201], `creating ${resource.resourceType}: ${response.text}`).toContain(response.status);
  return response.body;
}

/** Creates every fixture, in order; returns the ids by label. */
export async function createAll(server: TestServer, fixtures: Record<string, Fixture>): Promise<Ids> {
  const ids: Ids = {};
  for (const [label, resource] of Object.entries(fixtures)) ids[label] = (await createResource(server, resource)).id;
  return ids;
}

/** GET a search (with `_count=100`, so that one page holds every match), expecting 200. */
export async function search(server: TestServer, url: string, headers: Record<string, string> = {}): Promise<FhirTestResponse> {
  const response = await fhirRequest(server.app, 'GET', `${url}${url.includes('?') ? '&' : '?'}_count=100`, undefined, headers);
  expect(response.status, `GET ${url}: ${response.text}`).toBe(200);
  expect(response.body.resourceType).toBe('Bundle');
  return response;
}

/** The `Type/id` of every match (search.mode = match) of a search. */
export async function searchIds(server: TestServer, url: string): Promise<string[]> {
  const response = await search(server, url);
  return (response.body.entry ?? [])
    .filter((entry: { search?: { mode?: string } }) => entry.search?.mode === 'match')
    .map((entry: { resource: { resourceType: string; id: string } }) => `${entry.resource.resourceType}/${entry.resource.id}`);
}

/**
 * Asserts that a search matches exactly the labelled resources `expected` (of `type`, with the ids
 * in `ids`), and nothing else: compared as sorted labels, so a failure names what was missed or extra.
 */
export async function expectMatches(server: TestServer, url: string, type: string, ids: Ids, expected: string[]): Promise<void> {
  const labelOf = new Map(Object.entries(ids).map(([label, id]) => [`${type}/${id}`, label]));
  const found = (await searchIds(server, url)).map((key) => labelOf.get(key) ?? `(unlabelled ${key})`);
  expect(found.sort(), url).toEqual([...expected].sort());
}

/** Everything an OperationOutcome says. */
export function outcomeText(body: { issue?: { diagnostics?: string; details?: { text?: string } }[] } | undefined): string {
  return (body?.issue ?? []).map((issue) => `${issue.details?.text ?? ''} ${issue.diagnostics ?? ''}`).join(' ');
}

/** Asserts that a search is refused with `status` and an OperationOutcome that mentions `mentions` (e.g. the parameter). */
export async function expectSearchError(server: TestServer, url: string, mentions: string, status = 400, headers: Record<string, string> = {}): Promise<void> {
  const response = await fhirRequest(server.app, 'GET', url, undefined, headers);
  expect(response.status, `GET ${url}: ${response.text}`).toBe(status);
  expect(response.body?.resourceType).toBe('OperationOutcome');
  expect(['error', 'fatal']).toContain(response.body.issue[0].severity);
  expect(outcomeText(response.body)).toContain(mentions);
}

export const UCUM = 'http://unitsofmeasure.org';
export const LOINC = 'http://loinc.org';

/** `encodeURIComponent` for a search value: `|`, `$`, `,` and `\` reach the server as written. */
export const q = encodeURIComponent;
