import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, startTestServer, type FhirTestResponse, type TestServer } from '../support/test-server.js';

/**
 * A patient's app holds `patient/*.cruds` for Patient A. Every path by which data is read or written
 * is tried against Patient B's data: none may show, change or even confirm it.
 */
describe('cross-patient leak attempts with a patient-scoped token', () => {
  let server: TestServer;
  const ids: Record<string, string> = {};
  let tokenA: string;
  let labOnlyToken: string;

  const asA = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown, headers: Record<string, string> = {}) =>
    fhirRequest(server.app, method, url, body, { authorization: `Bearer ${tokenA}`, ...headers });
  const entryIds = (response: FhirTestResponse) =>
    (response.body.entry ?? []).filter((e: { resource?: { resourceType: string } }) => e.resource?.resourceType !== 'OperationOutcome')
      .map((e: { resource: { resourceType: string; id: string } }) => `${e.resource.resourceType}/${e.resource.id}`).sort();
  const adminPost = async (label: string, body: Record<string, unknown>) => {
    const response = await fhirRequest(server.app, 'POST', `/fhir/${body.resourceType}`, body);
    expect(response.status, response.text).toBe(201);
    ids[label] = `${body.resourceType}/${response.body.id}`;
    return response.body.id as string;
  };
  const observation = (patient: string, code: string, category: string) => ({
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: category }] }],
    code: { coding: [{ system: 'http://loinc.org', code }] },
    subject: { reference: ids[patient] },
    performer: [{ reference: ids.practitioner }],
  });

  beforeAll(async () => {
    server = await startTestServer();
    await adminPost('practitioner', { resourceType: 'Practitioner', name: [{ family: 'Welby' }] });
    const a = await adminPost('patientA', { resourceType: 'Patient', name: [{ family: 'Alpha' }], identifier: [{ system: 'urn:mrn', value: 'A' }] });
    await adminPost('patientB', { resourceType: 'Patient', name: [{ family: 'Bravo' }], identifier: [{ system: 'urn:mrn', value: 'B' }] });
    await adminPost('labA', observation('patientA', '2345-7', 'laboratory'));
    await adminPost('vitalA', observation('patientA', '8867-4', 'vital-signs'));
    await adminPost('labB', observation('patientB', '2345-7', 'laboratory'));
    await adminPost('encounterB', { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: ids.patientB } });
    await adminPost('allergyB', {
      resourceType: 'AllergyIntolerance',
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
      patient: { reference: ids.patientB },
      code: { text: 'peanuts' },
    });
    await adminPost('listB', { resourceType: 'List', status: 'current', mode: 'working', subject: { reference: ids.patientB }, entry: [{ item: { reference: ids.labB } }] });
    tokenA = await server.auth.tokens.issue({ sub: 'user-a', client_id: 'app', scope: 'patient/*.cruds launch/patient', role: 'patient', fhirUser: ids.patientA, patient: a });
    labOnlyToken = await server.auth.tokens.issue({ sub: 'user-a', client_id: 'app', scope: 'patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory', role: 'patient', fhirUser: ids.patientA, patient: a });
  });
  afterAll(async () => server?.close());

  describe('reads', () => {
    it('reads its own patient and data', async () => {
      expect((await asA('GET', `/fhir/${ids.patientA}`)).status).toBe(200);
      expect((await asA('GET', `/fhir/${ids.labA}`)).status).toBe(200);
    });

    it('gets 404 (not 403: existence is not confirmed) for the other patient and their data, by read and vread', async () => {
      for (const label of ['patientB', 'labB', 'encounterB', 'allergyB']) {
        expect((await asA('GET', `/fhir/${ids[label]}`)).status, label).toBe(404);
        expect((await asA('GET', `/fhir/${ids[label]}/_history/1`)).status, label).toBe(404);
        expect((await asA('GET', `/fhir/${ids[label]}/_history`)).status, label).toBe(404);
        expect((await asA('GET', `/fhir/${ids[label]}/$meta`)).status, label).toBe(404);
      }
    });

    it('does not see a deleted resource of the other patient as 410 either', async () => {
      const id = await adminPost('deletedB', observation('patientB', '1111-1', 'laboratory'));
      await fhirRequest(server.app, 'DELETE', `/fhir/Observation/${id}`);
      expect((await asA('GET', `/fhir/Observation/${id}`)).status).toBe(404);
    });
  });

  describe('search', () => {
    it('finds only its own resources, whatever the criteria', async () => {
      expect(entryIds(await asA('GET', '/fhir/Observation'))).toEqual([ids.labA, ids.vitalA].sort());
      expect(entryIds(await asA('GET', `/fhir/Observation?patient=${ids.patientB}`))).toEqual([]);
      expect(entryIds(await asA('GET', `/fhir/Observation?subject=${ids.patientB}`))).toEqual([]);
      expect(entryIds(await asA('GET', '/fhir/Patient'))).toEqual([ids.patientA]);
      expect(entryIds(await asA('GET', '/fhir/Patient?identifier=urn:mrn|B'))).toEqual([]);
      expect(entryIds(await asA('POST', '/fhir/Observation/_search', 'code=2345-7', { 'content-type': 'application/x-www-form-urlencoded' }))).toEqual([ids.labA]);
    });

    it('reports totals of its own data only', async () => {
      const response = await asA('GET', '/fhir/Observation?code=2345-7&_summary=count');
      expect(response.body.total).toBe(1);
    });

    it('cannot learn about the other patient through chains or _has', async () => {
      expect(entryIds(await asA('GET', '/fhir/Observation?subject:Patient.name=Bravo'))).toEqual([]);
      expect(entryIds(await asA('GET', '/fhir/Observation?subject:Patient.identifier=urn:mrn|B'))).toEqual([]);
      // A _has through the other patient's Encounter must not reveal that the Patient has one.
      expect(entryIds(await asA('GET', '/fhir/Patient?_has:Encounter:patient:status=finished'))).toEqual([]);
    });

    it('does not include or revinclude the other patient\'s resources', async () => {
      const included = await asA('GET', '/fhir/Patient?_revinclude=Observation:patient&_revinclude=Encounter:patient');
      expect(entryIds(included)).toEqual([ids.patientA, ids.labA, ids.vitalA].sort());
      const list = await asA('GET', `/fhir/Observation?_id=${ids.labA.split('/')[1]}&_include=Observation:performer`);
      // The Practitioner is outside the Patient compartment, shared by every patient's record: patient/*.cruds reads it.
      expect(entryIds(list)).toEqual([ids.labA, ids.practitioner].sort());
    });

    it('sees nothing through the other patient\'s compartment or a system-level search', async () => {
      expect(entryIds(await asA('GET', `/fhir/${ids.patientB}/*`))).toEqual([]);
      expect(entryIds(await asA('GET', `/fhir/${ids.patientB}/Observation`))).toEqual([]);
      expect(entryIds(await asA('GET', `/fhir?_type=Observation,Encounter,AllergyIntolerance`))).toEqual([ids.labA, ids.vitalA].sort());
      expect(entryIds(await asA('GET', `/fhir/Observation?_list=${ids.listB.split('/')[1]}`))).toEqual([]);
    });
  });

  describe('history', () => {
    it('lists only its own versions at type and system level', async () => {
      const typeHistory = await asA('GET', '/fhir/Observation/_history');
      expect(new Set(entryIds(typeHistory))).toEqual(new Set([ids.labA, ids.vitalA]));
      const systemHistory = await asA('GET', '/fhir/_history');
      const seen = new Set(entryIds(systemHistory));
      for (const label of ['patientB', 'labB', 'encounterB', 'allergyB', 'listB']) expect(seen.has(ids[label]), label).toBe(false);
    });
  });

  describe('writes', () => {
    it('cannot create data for the other patient (403) and nothing is written', async () => {
      const before = await server.db.query(`SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Observation'`);
      const response = await asA('POST', '/fhir/Observation', observation('patientB', '9999-9', 'laboratory'));
      expect(response.status).toBe(403);
      const after = await server.db.query(`SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Observation'`);
      expect(after.rows[0].n).toBe(before.rows[0].n);
    });

    it('can create its own data', async () => {
      const response = await asA('POST', '/fhir/Observation', observation('patientA', '9999-9', 'laboratory'));
      expect(response.status).toBe(201);
    });

    it('cannot update, patch or delete the other patient\'s data (404), nor move its own to them (403)', async () => {
      const labB = ids.labB;
      const [, labBId] = labB.split('/');
      expect((await asA('PUT', `/fhir/${labB}`, { ...observation('patientB', '2345-7', 'laboratory'), id: labBId })).status).toBe(404);
      expect((await asA('PATCH', `/fhir/${labB}`, JSON.stringify([{ op: 'replace', path: '/status', value: 'amended' }]), { 'content-type': 'application/json-patch+json' })).status).toBe(404);
      expect((await asA('DELETE', `/fhir/${labB}`)).status).toBe(404);
      const [, labAId] = ids.labA.split('/');
      expect((await asA('PUT', `/fhir/${ids.labA}`, { ...observation('patientB', '2345-7', 'laboratory'), id: labAId })).status).toBe(403);
      const stored = await fhirRequest(server.app, 'GET', `/fhir/${labB}`);
      expect(stored.body.meta.versionId).toBe('1');
    });

    it('cannot take over another patient\'s resource with a conditional update', async () => {
      const response = await asA('PUT', '/fhir/Patient?identifier=urn:mrn|B', { resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: 'B' }] });
      // No visible match: the update would create a new Patient, outside the token's compartment.
      expect(response.status).toBe(403);
    });

    it('rolls a whole transaction back when one entry reaches the other patient', async () => {
      const before = await server.db.query(`SELECT count(*)::int AS n FROM resource_history WHERE resource_type <> 'AuditEvent'`);
      const response = await asA('POST', '/fhir', {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { resource: observation('patientA', '1234-5', 'laboratory'), request: { method: 'POST', url: 'Observation' } },
          { resource: observation('patientB', '1234-5', 'laboratory'), request: { method: 'POST', url: 'Observation' } },
        ],
      });
      expect(response.status).toBe(403);
      const after = await server.db.query(`SELECT count(*)::int AS n FROM resource_history WHERE resource_type <> 'AuditEvent'`);
      expect(after.rows[0].n).toBe(before.rows[0].n);
    });

    it('gets a 404 for each batch entry that reads the other patient', async () => {
      const response = await asA('POST', '/fhir', {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [{ request: { method: 'GET', url: ids.patientB } }, { request: { method: 'GET', url: `Observation?patient=${ids.patientB}` } }, { request: { method: 'GET', url: ids.patientA } }],
      });
      expect(response.status).toBe(200);
      expect(response.body.entry.map((e: { response: { status: string } }) => e.response.status)).toEqual(['404 Not Found', '200 OK', '200 OK']);
      expect(response.body.entry[1].resource.total).toBe(0);
    });
  });

  describe('operations and scopes', () => {
    it('does not show audit records through a wildcard scope, not even those of its own requests', async () => {
      expect((await asA('GET', '/fhir/AuditEvent')).status).toBe(403);
      expect(entryIds(await asA('GET', `/fhir/${ids.patientA}/*`)).filter((id: string) => id.startsWith('AuditEvent'))).toEqual([]);
    });

    it('keeps the server-wide operations to admins', async () => {
      expect((await asA('GET', '/fhir/$meta')).status).toBe(403);
      expect((await asA('GET', '/fhir/Observation/$meta')).status).toBe(403);
      expect((await asA('POST', '/fhir/$reindex')).status).toBe(403);
    });

    it('narrows a query-scoped token to matching resources (patient/Observation.rs?category=laboratory)', async () => {
      const lab = (url: string) => fhirRequest(server.app, 'GET', url, undefined, { authorization: `Bearer ${labOnlyToken}` });
      expect((await lab(`/fhir/${ids.labA}`)).status).toBe(200);
      expect((await lab(`/fhir/${ids.vitalA}`)).status).toBe(404);
      expect((await lab(`/fhir/${ids.labB}`)).status).toBe(404);
      const found = entryIds(await lab('/fhir/Observation'));
      expect(found).toContain(ids.labA);
      expect(found).not.toContain(ids.vitalA);
      expect(found).not.toContain(ids.labB);
      expect((await lab(`/fhir/${ids.patientA}`)).status).toBe(403);
    });

    it('grants nothing for a scope it cannot parse (fail closed)', async () => {
      const token = await server.auth.tokens.issue({ sub: 'user-a', client_id: 'app', scope: 'patient/Observation.rx patient/Observation.readwrite', role: 'patient', patient: ids.patientA.split('/')[1] });
      const response = await fhirRequest(server.app, 'GET', `/fhir/${ids.labA}`, undefined, { authorization: `Bearer ${token}` });
      expect(response.status).toBe(403);
    });

    it('grants nothing for patient/ scopes without a launch patient', async () => {
      const token = await server.auth.tokens.issue({ sub: 'user-x', client_id: 'app', scope: 'patient/*.rs', role: 'practitioner' });
      expect((await fhirRequest(server.app, 'GET', '/fhir/Observation', undefined, { authorization: `Bearer ${token}` })).status).toBe(403);
    });

    it('lets a practitioner with user/ scopes see both patients', async () => {
      const token = await server.auth.tokens.issue({ sub: 'doc', client_id: 'app', scope: 'user/Observation.rs', role: 'practitioner', fhirUser: ids.practitioner });
      const response = await fhirRequest(server.app, 'GET', '/fhir/Observation?code=2345-7', undefined, { authorization: `Bearer ${token}` });
      expect(entryIds(response)).toEqual([ids.labA, ids.labB].sort());
    });

    it('holds a patient account to patient/ scopes even if its token claims user/ ones', async () => {
      const token = await server.auth.tokens.issue({ sub: 'user-a', client_id: 'app', scope: 'user/*.rs', role: 'patient', patient: ids.patientA.split('/')[1] });
      expect((await fhirRequest(server.app, 'GET', `/fhir/${ids.labB}`, undefined, { authorization: `Bearer ${token}` })).status).toBe(403);
    });
  });

  describe('tokens', () => {
    it('answers 401 with WWW-Authenticate without a token, with a forged one, and with a revoked one', async () => {
      const none = await fhirRequest(server.app, 'GET', '/fhir/Patient', undefined, { authorization: '' });
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
      const forged = await fhirRequest(server.app, 'GET', '/fhir/Patient', undefined, { authorization: `Bearer ${tokenA.slice(0, -4)}AAAA` });
      expect(forged.status).toBe(401);
      expect(forged.headers['www-authenticate']).toContain('invalid_token');
      const token = await server.auth.tokens.issue({ sub: 'doc', client_id: 'app', scope: 'user/*.rs', role: 'practitioner' });
      const claims = await server.auth.tokens.verify(token);
      await server.auth.tokens.revoke(claims);
      expect((await fhirRequest(server.app, 'GET', '/fhir/Patient', undefined, { authorization: `Bearer ${token}` })).status).toBe(401);
    });

    it('keeps the CapabilityStatement public', async () => {
      expect((await fhirRequest(server.app, 'GET', '/fhir/metadata', undefined, { authorization: '' })).status).toBe(200);
    });
  });
});
