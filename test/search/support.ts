import { expect } from 'vitest';
import { fhirRequest, type FhirTestResponse, type TestServer } from '../support/test-server.js';

/**
 * Helpers for the search specification tests (string, token, date): resources are created under
 * labels, and a search's result is compared, as a set of labels, with the set the spec says.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- FHIR JSON written freely in tests
export type Json = Record<string, any>;

/** Ids by label. */
export type Ids = Record<string, string>;

/** Creates each resource (`POST [type]`) and returns the server's ids by the resources' labels. */
export async function createAll(server: TestServer, resources: Record<string, Json>): Promise<Ids> {
  const ids: Ids = {};
  for (const [label, resource] of Object.entries(resources)) {
    const response = await fhirRequest(server.app, 'POST', `/fhir/${resource.resourceType}`, resource);
    expect(response.status, `creating ${label}: ${response.text}`).toBe(201);
    ids[label] = response.body.id;
  }
  return ids;
}

/** `url` with `_count=100` added, so that every match is on the one page. */
function withCount(url: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}_count=100`;
}

/**
 * The ids a search matches (`search.mode = match`), in the server's order. Searches are strict
 * (`Prefer: handling=strict`), so that a parameter the server does not know fails the test rather
 * than being ignored; and every match must be on the one page.
 */
export async function searchIds(server: TestServer, url: string): Promise<string[]> {
  const response = await fhirRequest(server.app, 'GET', withCount(url), undefined, { prefer: 'handling=strict' });
  expect(response.status, `${url}: ${response.text}`).toBe(200);
  expect(response.body.resourceType).toBe('Bundle');
  const links: { relation: string }[] = response.body.link ?? [];
  expect(links.some((l) => l.relation === 'next'), `${url}: more than one page`).toBe(false);
  const entries: Json[] = response.body.entry ?? [];
  return entries.filter((e) => e.search?.mode === 'match').map((e) => e.resource.id as string);
}

/**
 * The labels of the resources a search matches, sorted; a match that is not one of `ids` shows as
 * `?<id>`, so that an unexpected resource fails the comparison visibly.
 */
export async function searchLabels(server: TestServer, ids: Ids, url: string): Promise<string[]> {
  const byId = new Map(Object.entries(ids).map(([label, id]) => [id, label]));
  const found = await searchIds(server, url);
  return found.map((id) => byId.get(id) ?? `?${id}`).sort();
}

/** Sorted copy, for comparing with `searchLabels`. */
export const sorted = (labels: string[]): string[] => [...labels].sort();

/** Every label of `ids` except those given: for `:not`, `ne`, `:missing=false` and the like. */
export function allBut(ids: Ids, ...excluded: string[]): string[] {
  return sorted(Object.keys(ids).filter((label) => !excluded.includes(label)));
}

/** A search the server must refuse: 400, an OperationOutcome, and its text naming `mentions`. */
export async function expectSearchError(server: TestServer, url: string, ...mentions: string[]): Promise<FhirTestResponse> {
  const response = await fhirRequest(server.app, 'GET', url);
  expect(response.status, `${url}: ${response.text}`).toBe(400);
  expect(response.body?.resourceType).toBe('OperationOutcome');
  const issue = response.body.issue?.[0];
  expect(['error', 'fatal']).toContain(issue?.severity);
  const text = (response.body.issue as Json[]).map((i) => `${i.details?.text ?? ''} ${i.diagnostics ?? ''}`).join(' ');
  for (const mention of mentions) expect(text, url).toContain(mention);
  return response;
}

/**
 * Encodes one search value for a URL. The server decodes the query before it splits values on
 * commas, so an encoded comma still separates values, and `\,` (encoded) is still an escaped one.
 */
export const q = (value: string): string => encodeURIComponent(value);
