import { expect } from 'vitest';
import type { FhirTestResponse, TestServer } from '../../support/test-server.js';

/** How many rows the two resource tables hold, to show that a rejected write wrote nothing. */
export async function rowCounts(server: TestServer): Promise<{ resource: number; history: number }> {
  const { rows } = await server.db.query<{ resource: string; history: string }>(
    // AuditEvents record requests (refused ones too); they are not the client's data.
    `SELECT (SELECT count(*) FROM resource WHERE resource_type <> 'AuditEvent') AS resource,
            (SELECT count(*) FROM resource_history WHERE resource_type <> 'AuditEvent') AS history`,
  );
  return { resource: Number(rows[0].resource), history: Number(rows[0].history) };
}

/** The stored current row and history rows of one resource. */
export async function storedRows(server: TestServer, type: string, id: string) {
  const current = await server.db.query<{ version_id: number; deleted: boolean; content: Record<string, unknown> | null }>(
    'SELECT version_id, deleted, content FROM resource WHERE resource_type = $1 AND id = $2',
    [type, id],
  );
  const history = await server.db.query<{ version_id: number; method: string; content: Record<string, unknown> | null }>(
    'SELECT version_id, method, content FROM resource_history WHERE resource_type = $1 AND id = $2 ORDER BY version_id',
    [type, id],
  );
  return { current: current.rows[0], history: history.rows };
}

/** An error answer: the status, a FHIR JSON content type and an OperationOutcome with an error issue. */
export function expectOperationOutcome(response: FhirTestResponse, status: number): void {
  expect(response.status, response.text).toBe(status);
  expect(String(response.headers['content-type'])).toMatch(/^application\/fhir\+json/);
  expect(response.body?.resourceType).toBe('OperationOutcome');
  expect(response.body.issue.length).toBeGreaterThan(0);
  expect(['error', 'fatal']).toContain(response.body.issue[0].severity);
}

/** Every FHIRPath expression the OperationOutcome's issues point at. */
export function issueExpressions(response: FhirTestResponse): string[] {
  return (response.body?.issue ?? []).flatMap((issue: { expression?: string[] }) => issue.expression ?? []);
}

/** All the text of an OperationOutcome, for asserting that a message says what went wrong. */
export function issueText(response: FhirTestResponse): string {
  return (response.body?.issue ?? [])
    .map((issue: { diagnostics?: string; details?: { text?: string } }) => `${issue.details?.text ?? ''} ${issue.diagnostics ?? ''}`)
    .join(' ');
}

/** The version number in an ETag `W/"n"`. */
export function etagVersion(response: FhirTestResponse): number {
  const match = /^W\/"(\d+)"$/.exec(String(response.headers.etag));
  if (!match) throw new Error(`not a weak ETag: ${String(response.headers.etag)}`);
  return Number(match[1]);
}

export const patient = (extra: Record<string, unknown> = {}) => ({
  resourceType: 'Patient',
  name: [{ family: 'Chalmers', given: ['Peter'] }],
  gender: 'male',
  birthDate: '1974-12-25',
  ...extra,
});

export const observation = (extra: Record<string, unknown> = {}) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  valueQuantity: { value: 72, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
  ...extra,
});

/** Waits until the clock has moved past the given instant (timestamps are compared at ms precision). */
export async function tick(ms = 5): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}
