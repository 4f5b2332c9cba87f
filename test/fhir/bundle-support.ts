import { expect } from 'vitest';
import { fhirRequest, type FhirTestResponse, type TestServer } from '../support/test-server.js';

/** Helpers of the batch and transaction tests (http.html#transaction). */

export interface RequestEntry {
  fullUrl?: string;
  resource?: Record<string, unknown>;
  request: { method: string; url: string; ifMatch?: string; ifNoneExist?: string; ifNoneMatch?: string };
}

export function bundle(type: 'batch' | 'transaction', entry: RequestEntry[]): Record<string, unknown> {
  return { resourceType: 'Bundle', type, entry };
}

export function postBundle(server: TestServer, body: unknown, headers: Record<string, string> = {}): Promise<FhirTestResponse> {
  return fhirRequest(server.app, 'POST', '/fhir', body, headers);
}

/** How many rows the two resource tables hold: a failed transaction must leave both as they were. */
export async function rowCounts(server: TestServer): Promise<{ resource: number; history: number }> {
  const { rows } = await server.db.query<{ resource: string; history: string }>(
    // AuditEvents record requests (refused ones too); they are not the client's data.
    `SELECT (SELECT count(*) FROM resource WHERE resource_type <> 'AuditEvent') AS resource,
            (SELECT count(*) FROM resource_history WHERE resource_type <> 'AuditEvent') AS history`,
  );
  return { resource: Number(rows[0].resource), history: Number(rows[0].history) };
}

/** Everything an OperationOutcome says, to assert that it names the failing entry. */
export function outcomeText(outcome: { issue?: { diagnostics?: string; details?: { text?: string } }[] } | undefined): string {
  return (outcome?.issue ?? []).map((issue) => `${issue.details?.text ?? ''} ${issue.diagnostics ?? ''}`).join(' ');
}

export function expectOutcome(response: FhirTestResponse, status: number, mentions: string | RegExp): void {
  expect(response.status, response.text).toBe(status);
  expect(response.body?.resourceType).toBe('OperationOutcome');
  expect(['error', 'fatal']).toContain(response.body.issue[0].severity);
  const text = outcomeText(response.body);
  if (typeof mentions === 'string') expect(text).toContain(mentions);
  else expect(text).toMatch(mentions);
}

/** `http://fhir.test/fhir/Patient/abc/_history/1` -> `Patient/abc`. */
export function referenceOf(location: string): string {
  const match = /\/fhir\/([A-Za-z]+\/[A-Za-z0-9\-.]{1,64})\/_history\/\d+$/.exec(location);
  if (!match) throw new Error(`not a versioned location: ${location}`);
  return match[1];
}

/** A fresh identifier value per test, so that conditional criteria never see another test's data. */
let counter = 0;
export function uniqueValue(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now()}-${counter}`;
}

export const IDENTIFIER_SYSTEM = 'http://example.org/mrn';

export function patient(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { resourceType: 'Patient', name: [{ family: 'Chalmers', given: ['Peter'] }], gender: 'male', birthDate: '1974-12-25', ...extra };
}

export function observation(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
    valueQuantity: { value: 72, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
    ...extra,
  };
}

export async function readResource(server: TestServer, reference: string): Promise<FhirTestResponse> {
  return fhirRequest(server.app, 'GET', `/fhir/${reference}`);
}

/** Creates a resource through the REST API and answers its `Type/id`. */
export async function seed(server: TestServer, resource: Record<string, unknown>): Promise<string> {
  const response = await fhirRequest(server.app, 'POST', `/fhir/${String(resource.resourceType)}`, resource);
  expect(response.status, response.text).toBe(201);
  return `${response.body.resourceType}/${response.body.id}`;
}
