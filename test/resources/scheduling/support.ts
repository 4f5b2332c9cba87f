import { expect } from 'vitest';
import { Scheduling } from '../../../src/resources/index.js';
import { fhirRequest, startTestServer, type FhirTestResponse, type TestServer } from '../../support/test-server.js';

export { expectOperationOutcome, issueExpressions, issueText } from '../../fhir/interactions/support.js';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A clinic: a practitioner with a schedule, two patients, and the tokens of the people involved. */
export interface Clinic {
  server: TestServer;
  practitioner: string;
  otherPractitioner: string;
  schedule: string;
  patient: string;
  otherPatient: string;
  /** `patient/*.cruds` for `patient`, as a patient user. */
  patientToken: string;
  otherPatientToken: string;
  /** `user/*.cruds` for the schedule's owner (fhirUser = practitioner). */
  ownerToken: string;
  /** `user/*.cruds` for another practitioner (a colleague at the front desk). */
  colleagueToken: string;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export function request(server: TestServer, method: Method, url: string, body?: unknown, token?: string): Promise<FhirTestResponse> {
  return fhirRequest(server.app, method, url.startsWith('/') ? url : `/fhir/${url}`, body, token ? bearer(token) : {});
}

export async function create<T extends { resourceType: string }>(server: TestServer, resource: T, token?: string): Promise<string> {
  const response = await request(server, 'POST', resource.resourceType, resource, token);
  expect(response.status, response.text).toBe(201);
  return response.body.id as string;
}

export async function startClinic(env: Record<string, string> = {}): Promise<Clinic> {
  const server = await startTestServer(env);
  return setUpClinic(server);
}

export async function setUpClinic(server: TestServer): Promise<Clinic> {
  const practitioner = await create(server, { resourceType: 'Practitioner', name: [{ family: 'Welby', given: ['Marcus'] }] });
  const otherPractitioner = await create(server, { resourceType: 'Practitioner', name: [{ family: 'Kildare' }] });
  const patient = await create(server, { resourceType: 'Patient', name: [{ family: 'Alpha' }] });
  const otherPatient = await create(server, { resourceType: 'Patient', name: [{ family: 'Bravo' }] });
  const schedule = await create(server, {
    resourceType: 'Schedule',
    active: true,
    actor: [{ reference: `Practitioner/${practitioner}` }],
    specialty: [{ coding: [{ system: 'http://snomed.info/sct', code: '394814009', display: 'General practice' }] }],
    serviceType: [{ coding: [{ system: 'http://snomed.info/sct', code: '11429006', display: 'Consultation' }] }],
  });
  const tokens = server.auth.tokens;
  const userScope = 'user/*.cruds';
  return {
    server,
    practitioner,
    otherPractitioner,
    schedule,
    patient,
    otherPatient,
    patientToken: await tokens.issue({ sub: 'pat-a', client_id: 'app', scope: 'patient/*.cruds', role: 'patient', fhirUser: `Patient/${patient}`, patient }),
    otherPatientToken: await tokens.issue({
      sub: 'pat-b',
      client_id: 'app',
      scope: 'patient/*.cruds',
      role: 'patient',
      fhirUser: `Patient/${otherPatient}`,
      patient: otherPatient,
    }),
    ownerToken: await tokens.issue({ sub: 'doc', client_id: 'ehr', scope: userScope, role: 'practitioner', fhirUser: `Practitioner/${practitioner}` }),
    colleagueToken: await tokens.issue({ sub: 'desk', client_id: 'ehr', scope: userScope, role: 'practitioner', fhirUser: `Practitioner/${otherPractitioner}` }),
  };
}

let dayCounter = 0;

/** A fresh day in the future (no two tests share one), `YYYY-MM-DD`: the 1st of a month from 2031 on. */
export function freshDay(): string {
  const n = dayCounter++;
  const date = new Date(Date.UTC(2031 + Math.floor(n / 300), 0, 1) + (n % 300) * 86_400_000);
  return date.toISOString().slice(0, 10);
}

/** A slot of the clinic's schedule (or another), `minutes` long from `start`. */
export async function createSlot(clinic: Clinic, start: string, extra: Record<string, unknown> = {}, minutes = 30, schedule = clinic.schedule): Promise<string> {
  const end = new Date(Date.parse(start) + minutes * 60_000).toISOString().replace('.000Z', 'Z');
  return create(clinic.server, { resourceType: 'Slot', schedule: { reference: `Schedule/${schedule}` }, status: 'free', start, end, ...extra });
}

/** The Appointment a client would send to book a slot for a patient with the practitioner. */
export function appointmentFor(clinic: Clinic, slots: string[], start: string, end: string, status = 'booked', patient = clinic.patient) {
  return {
    resourceType: 'Appointment',
    status,
    start,
    end,
    ...(slots.length ? { slot: slots.map((id) => ({ reference: `Slot/${id}` })) } : {}),
    participant: [
      { actor: { reference: `Patient/${patient}` }, required: 'required', status: 'accepted' },
      { actor: { reference: `Practitioner/${clinic.practitioner}` }, required: 'required', status: 'accepted' },
    ],
  };
}

export function plus(start: string, minutes: number): string {
  return new Date(Date.parse(start) + minutes * 60_000).toISOString().replace('.000Z', 'Z');
}

/** A slot's stored state, straight from the database. */
export async function slotRow(server: TestServer, id: string): Promise<{ status: string; version: number }> {
  const { rows } = await server.db.query<{ status: string; version_id: number }>(
    `SELECT content->>'status' AS status, version_id FROM resource WHERE resource_type = 'Slot' AND id = $1`,
    [id],
  );
  return { status: rows[0]?.status, version: rows[0]?.version_id };
}

export async function appointmentRow(server: TestServer, id: string): Promise<{ status: string; version: number; content: Record<string, unknown> }> {
  const { rows } = await server.db.query<{ status: string; version_id: number; content: Record<string, unknown> }>(
    `SELECT content->>'status' AS status, version_id, content FROM resource WHERE resource_type = 'Appointment' AND id = $1`,
    [id],
  );
  return { status: rows[0]?.status, version: rows[0]?.version_id, content: rows[0]?.content };
}

/** Appointments (not deleted) that name the slot, with their statuses. */
export async function appointmentsOfSlot(server: TestServer, slot: string): Promise<{ id: string; status: string }[]> {
  const { rows } = await server.db.query<{ id: string; status: string }>(
    `SELECT id, content->>'status' AS status FROM resource
      WHERE resource_type = 'Appointment' AND NOT deleted AND content->'slot' @> $1::jsonb ORDER BY id`,
    [JSON.stringify([{ reference: `Slot/${slot}` }])],
  );
  return rows;
}

export async function holdRow(server: TestServer, appointment: string): Promise<Date | undefined> {
  const { rows } = await server.db.query<{ expires_at: Date }>('SELECT expires_at FROM appointment_hold WHERE appointment_id = $1', [appointment]);
  return rows[0]?.expires_at;
}

/** A Parameters resource from name/value pairs (`valueX` objects) and resources. */
export function parameters(...parameter: Record<string, unknown>[]) {
  return { resourceType: 'Parameters', parameter };
}

export function countStatuses(responses: { status: number }[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const { status } of responses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

export function scheduling(server: TestServer): Scheduling {
  return Scheduling.of(server.store);
}

/** The entries' resources of a Bundle. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read FHIR JSON freely
export function entries(bundle: any): any[] {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return (bundle?.entry ?? []).map((e: any) => e.resource);
}
