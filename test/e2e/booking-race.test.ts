import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { adminEnv, adminToken } from './support/admin-token.js';
import { buildOnce, fhirFetch, startServerProcess, stopAllServerProcesses, type HttpResult, type ServerProcess } from './support/server-process.js';

/** Concurrent bookings per race, split evenly across the two processes. */
const N = 20;

function countStatuses(results: HttpResult[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const { status } of results) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * No double booking across processes: two server processes on one database, N clients booking the
 * same slot through both at once. PostgreSQL decides: exactly one booking, the others 409.
 */
describe('booking one slot through two server processes', () => {
  let database: TestDatabase;
  let pool: pg.Pool;
  let a: ServerProcess;
  let b: ServerProcess;
  let headers: Record<string, string>;
  const via = (i: number) => (i % 2 === 0 ? a : b).baseUrl;

  beforeAll(async () => {
    await buildOnce();
    database = await createTestDatabase();
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
    // One public BASE_URL for both, as behind a load balancer: a token's issuer and audience are then valid on either.
    const env = { ...adminEnv(), BASE_URL: 'http://booking.e2e.test', APPOINTMENT_HOLD_SECONDS: '1', APPOINTMENT_HOLD_SWEEP_MS: '200' };
    [a, b] = await Promise.all([startServerProcess({ databaseUrl: database.url, env }), startServerProcess({ databaseUrl: database.url, env })]);
    // A backend-service token from the admin client (POST /oauth/token, client_credentials), good on both processes.
    headers = { authorization: `Bearer ${await adminToken(a.baseUrl)}` };
  });

  afterAll(async () => {
    await stopAllServerProcesses();
    await pool?.end();
    await database?.drop();
  });

  async function post(baseUrl: string, path: string, body: unknown): Promise<HttpResult> {
    return fhirFetch(baseUrl, 'POST', path, body, headers);
  }

  async function created(baseUrl: string, resource: { resourceType: string }): Promise<string> {
    const result = await post(baseUrl, resource.resourceType, resource);
    expect(result.status, JSON.stringify(result.body)).toBe(201);
    return result.body.id;
  }

  async function slotState(id: string): Promise<{ status: string; version: number }> {
    const { rows } = await pool.query<{ status: string; version_id: number }>(
      `SELECT content->>'status' AS status, version_id FROM resource WHERE resource_type = 'Slot' AND id = $1`,
      [id],
    );
    return { status: rows[0].status, version: rows[0].version_id };
  }

  async function setUp(start: string): Promise<{ practitioner: string; slot: string; patients: string[] }> {
    const practitioner = await created(a.baseUrl, { resourceType: 'Practitioner', name: [{ family: 'Race' }] } as { resourceType: string });
    const schedule = await created(b.baseUrl, { resourceType: 'Schedule', actor: [{ reference: `Practitioner/${practitioner}` }] } as { resourceType: string });
    const slot = await created(a.baseUrl, {
      resourceType: 'Slot',
      schedule: { reference: `Schedule/${schedule}` },
      status: 'free',
      start,
      end: new Date(Date.parse(start) + 30 * 60_000).toISOString(),
    } as { resourceType: string });
    const patients = await Promise.all(
      Array.from({ length: N }, (_, i) => created(via(i), { resourceType: 'Patient', name: [{ family: `Racer${i}` }] } as { resourceType: string })),
    );
    return { practitioner, slot, patients };
  }

  const appointment = (practitioner: string, slot: string, patient: string, start: string) => ({
    resourceType: 'Appointment',
    status: 'proposed',
    start,
    end: new Date(Date.parse(start) + 30 * 60_000).toISOString(),
    slot: [{ reference: `Slot/${slot}` }],
    participant: [
      { actor: { reference: `Patient/${patient}` }, status: 'needs-action' },
      { actor: { reference: `Practitioner/${practitioner}` }, status: 'needs-action' },
    ],
  });

  it(`of ${N} concurrent $book of one slot across both processes exactly one wins; the others get 409 slot taken`, async () => {
    const start = '2033-06-06T09:00:00Z';
    const { practitioner, slot, patients } = await setUp(start);
    const results = await Promise.all(
      patients.map((patient, i) =>
        post(via(i), 'Appointment/$book', {
          resourceType: 'Parameters',
          parameter: [{ name: 'appointment-resource', resource: appointment(practitioner, slot, patient, start) }],
        }),
      ),
    );
    expect(countStatuses(results)).toEqual({ 201: 1, 409: N - 1 });
    for (const result of results.filter((r) => r.status === 409)) {
      expect(result.body.resourceType).toBe('OperationOutcome');
      expect(result.body.issue[0].diagnostics).toContain(`Slot/${slot} is already taken`);
    }
    expect(await slotState(slot)).toEqual({ status: 'busy', version: 2 });
    const { rows } = await pool.query<{ id: string; status: string }>(
      `SELECT id, content->>'status' AS status FROM resource WHERE resource_type = 'Appointment' AND content->'slot' @> $1::jsonb`,
      [JSON.stringify([{ reference: `Slot/${slot}` }])],
    );
    const winner = results.find((r) => r.status === 201) as HttpResult;
    expect(rows).toEqual([{ id: winner.body.entry[0].resource.id, status: 'booked' }]);
    // Both processes answer the same.
    for (const server of [a, b]) {
      const found = await fhirFetch(server.baseUrl, 'GET', `Slot?_id=${slot}&status=busy`, undefined, headers);
      expect(found.body.total).toBe(1);
    }
  });

  it(`of ${N} concurrent REST creates of a booked Appointment on one slot across both processes exactly one wins`, async () => {
    const start = '2033-06-07T09:00:00Z';
    const { practitioner, slot, patients } = await setUp(start);
    const results = await Promise.all(
      patients.map((patient, i) => post(via(i), 'Appointment', { ...appointment(practitioner, slot, patient, start), status: 'booked' })),
    );
    expect(countStatuses(results)).toEqual({ 201: 1, 409: N - 1 });
    expect(await slotState(slot)).toEqual({ status: 'busy', version: 2 });
  });

  it('frees an expired hold with no request arriving, once, whichever process sweeps', async () => {
    const start = '2033-06-08T09:00:00Z';
    const { practitioner, slot, patients } = await setUp(start);
    const held = await post(b.baseUrl, 'Appointment/$hold', {
      resourceType: 'Parameters',
      parameter: [{ name: 'appointment-resource', resource: appointment(practitioner, slot, patients[0], start) }],
    });
    expect(held.status, JSON.stringify(held.body)).toBe(201);
    expect(held.headers.get('expires')).toBeTruthy();
    const id = held.body.entry[0].resource.id;
    const deadline = Date.now() + 15_000;
    while ((await slotState(slot)).status !== 'free' && Date.now() < deadline) await sleep(100);
    expect(await slotState(slot)).toEqual({ status: 'free', version: 3 });
    const { rows } = await pool.query<{ version_id: number; status: string }>(
      `SELECT version_id, content->>'status' AS status FROM resource_history WHERE resource_type = 'Appointment' AND id = $1 ORDER BY version_id`,
      [id],
    );
    expect(rows).toEqual([
      { version_id: 1, status: 'pending' },
      { version_id: 2, status: 'cancelled' },
    ]);
  });
});
