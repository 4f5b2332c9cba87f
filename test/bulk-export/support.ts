import { expect } from 'vitest';
import { fhirRequest, type FhirTestResponse, type TestServer } from '../support/test-server.js';

/** The path of an absolute URL the server wrote (requests go through `inject`). */
export const pathOf = (url: string) => new URL(url).pathname + new URL(url).search;

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export const ASYNC = { prefer: 'respond-async', accept: 'application/fhir+json' };

/** Kick-off: answers the response, and the status URL's path when it was 202. */
export async function kickOff(server: TestServer, url: string, headers: Record<string, string> = {}, method: 'GET' | 'POST' = 'GET', body?: unknown) {
  const response = await fhirRequest(server.app, method, url, body, { ...ASYNC, ...headers });
  const location = response.headers['content-location'] as string | undefined;
  return { response, status: location ? pathOf(location) : undefined };
}

/** Polls the status URL until it is no longer 202. */
export async function poll(server: TestServer, statusPath: string, headers: Record<string, string> = {}): Promise<FhirTestResponse> {
  for (let i = 0; i < 1000; i++) {
    const response = await fhirRequest(server.app, 'GET', statusPath, undefined, { accept: 'application/json', ...headers });
    if (response.status !== 202) return response;
    expect(response.headers['x-progress']).toBeTruthy();
    expect(response.headers['retry-after']).toBeTruthy();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('export did not finish');
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- FHIR JSON
export type Json = any;

/** Downloads every file of a manifest: resources by type. */
export async function download(server: TestServer, manifest: Json, headers: Record<string, string> = {}): Promise<Record<string, Json[]>> {
  const byType: Record<string, Json[]> = {};
  for (const file of manifest.output) {
    const response = await fhirRequest(server.app, 'GET', pathOf(file.url), undefined, { accept: 'application/fhir+ndjson', ...headers });
    expect(response.status, response.text).toBe(200);
    expect(response.headers['content-type']).toContain('application/fhir+ndjson');
    const lines = response.text.split('\n').filter((line) => line.length > 0);
    expect(lines.length).toBe(file.count);
    const resources = lines.map((line) => JSON.parse(line));
    for (const resource of resources) expect(resource.resourceType).toBe(file.type);
    byType[file.type] = [...(byType[file.type] ?? []), ...resources];
  }
  return byType;
}

/** Kick-off, poll and download in one: the manifest and the resources by type. */
export async function exportAll(server: TestServer, url: string, headers: Record<string, string> = {}) {
  const { response, status } = await kickOff(server, url, headers);
  expect(response.status, response.text).toBe(202);
  const done = await poll(server, status as string, headers);
  expect(done.status, done.text).toBe(200);
  expect(done.headers['content-type']).toContain('application/json');
  const resources = await download(server, done.body, headers);
  return { manifest: done.body, resources, status: status as string };
}

export const idsOf = (resources: Json[] | undefined) => (resources ?? []).map((r: Json) => `${r.resourceType}/${r.id}`).sort();
