import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, startTestServer, type FhirTestResponse, type TestServer } from '../../support/test-server.js';
import { expectOperationOutcome, patient } from './support.js';

/** The entries of a searchset as `Type/id` with their search mode, in order. */
function entries(response: FhirTestResponse): string[] {
  expect(response.status, response.text).toBe(200);
  expect(response.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
  return response.body.entry.map((entry: { resource: { resourceType: string; id: string }; search: { mode: string } }) =>
    `${entry.resource.resourceType}/${entry.resource.id} ${entry.search.mode}`,
  );
}

/** Patient/[id]/$everything (patient-operation-everything.html). */
describe('Patient $everything', () => {
  let server: TestServer;
  let alice: string;
  let bob: string;
  let doctor: string;
  let observation: string;
  let condition: string;
  let bobsObservation: string;

  const get = (url: string, token?: string) => fhirRequest(server.app, 'GET', url, undefined, token ? { authorization: `Bearer ${token}` } : {});
  const created = async (resource: Record<string, unknown>) => {
    const response = await fhirRequest(server.app, 'POST', `/fhir/${resource.resourceType as string}`, resource);
    expect(response.status, response.text).toBe(201);
    return response.body.id as string;
  };

  beforeAll(async () => {
    server = await startTestServer();
    doctor = await created({ resourceType: 'Practitioner', name: [{ family: 'House' }] });
    alice = await created(patient({ generalPractitioner: [{ reference: `Practitioner/${doctor}` }] }));
    bob = await created(patient());
    observation = await created({ resourceType: 'Observation', status: 'final', code: { text: 'pulse' }, subject: { reference: `Patient/${alice}` } });
    condition = await created({ resourceType: 'Condition', subject: { reference: `Patient/${alice}` }, code: { text: 'flu' } });
    bobsObservation = await created({ resourceType: 'Observation', status: 'final', code: { text: 'pulse' }, subject: { reference: `Patient/${bob}` } });
  });

  afterAll(async () => {
    await server.close();
  });

  it('answers the patient, its compartment and what they reference, and nothing of another patient', async () => {
    const found = entries(await get(`/fhir/Patient/${alice}/$everything`));

    expect(found.sort()).toEqual(
      [`Condition/${condition} match`, `Observation/${observation} match`, `Patient/${alice} match`, `Practitioner/${doctor} include`].sort(),
    );
    expect(found.join()).not.toContain(bob);
    expect(found.join()).not.toContain(bobsObservation);
  });

  it('leaves out the audit records of the patient unless _type asks for them', async () => {
    await get(`/fhir/Patient/${alice}`);
    await server.auth.audit?.flush();

    expect(entries(await get(`/fhir/Patient/${alice}/$everything`)).some((entry) => entry.startsWith('AuditEvent/'))).toBe(false);
    expect(entries(await get(`/fhir/Patient/${alice}/$everything?_type=AuditEvent`)).some((entry) => entry.startsWith('AuditEvent/'))).toBe(true);
  });

  it('narrows to _type, in the query or in a POSTed Parameters resource', async () => {
    // The patient comes along as what the Condition references.
    expect(entries(await get(`/fhir/Patient/${alice}/$everything?_type=Condition`))).toEqual([`Condition/${condition} match`, `Patient/${alice} include`]);

    const posted = await fhirRequest(server.app, 'POST', `/fhir/Patient/${alice}/$everything`, {
      resourceType: 'Parameters',
      parameter: [{ name: '_type', valueString: 'Observation' }],
    });
    expect(entries(posted)).toEqual([`Observation/${observation} match`, `Patient/${alice} include`]);
  });

  it('takes _since as the resources changed from then on', async () => {
    const { rows } = await server.db.query<{ last_updated: Date }>(`SELECT last_updated FROM resource WHERE resource_type = 'Condition' AND id = $1`, [condition]);
    const since = rows[0].last_updated.toISOString();

    const changedSince = entries(await get(`/fhir/Patient/${alice}/$everything?_since=${since}&_type=Observation,Condition`));
    expect(changedSince.filter((entry) => entry.endsWith(' match'))).toEqual([`Condition/${condition} match`]);
  });

  it('pages with _count through next links that visit every resource once', async () => {
    const seen: string[] = [];
    let url: string | undefined = `/fhir/Patient/${alice}/$everything?_count=1`;
    while (url) {
      const page = await get(url);
      seen.push(...entries(page).filter((entry) => entry.endsWith(' match')));
      const next = page.body.link.find((link: { relation: string }) => link.relation === 'next');
      url = next && new URL(next.url).pathname + new URL(next.url).search;
    }

    expect(seen.sort()).toEqual([`Condition/${condition} match`, `Observation/${observation} match`, `Patient/${alice} match`].sort());
  });

  it('gives a patient-scoped token its own record and only the types it may search', async () => {
    const token = await server.auth.tokens.issue({ sub: 'alice', client_id: 'app', scope: 'patient/Patient.rs patient/Observation.rs', role: 'patient', fhirUser: `Patient/${alice}`, patient: alice });

    expect(entries(await get(`/fhir/Patient/${alice}/$everything`, token)).sort()).toEqual([`Observation/${observation} match`, `Patient/${alice} match`].sort());
    expectOperationOutcome(await get(`/fhir/Patient/${bob}/$everything`, token), 404);
  });

  it('refuses what it cannot answer exactly: start and end, a bad _since, a type outside the compartment', async () => {
    for (const query of ['start=2024-01-01', 'end=2024-12-31', '_since=2024', '_type=Practitioner']) {
      const response = await get(`/fhir/Patient/${alice}/$everything?${query}`);
      expectOperationOutcome(response, 400);
    }
  });

  it('answers every patient at type level, and a patient-scoped token only its own record', async () => {
    const all = entries(await get('/fhir/Patient/$everything?_type=Patient,Observation'));
    expect(all.filter((entry) => entry.endsWith(' match')).sort()).toEqual(
      [`Observation/${bobsObservation} match`, `Observation/${observation} match`, `Patient/${alice} match`, `Patient/${bob} match`].sort(),
    );

    const token = await server.auth.tokens.issue({ sub: 'alice', client_id: 'app', scope: 'patient/*.rs', role: 'patient', fhirUser: `Patient/${alice}`, patient: alice });
    const own = entries(await get('/fhir/Patient/$everything', token));
    expect(own.filter((entry) => entry.endsWith(' match')).sort()).toEqual([`Condition/${condition} match`, `Observation/${observation} match`, `Patient/${alice} match`].sort());
  });

  it('is 404 for a patient that does not exist', async () => {
    expectOperationOutcome(await get('/fhir/Patient/nobody/$everything'), 404);
  });
});
