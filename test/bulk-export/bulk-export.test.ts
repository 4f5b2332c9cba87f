import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, startTestServer, type TestServer } from '../support/test-server.js';
import { bearer, download, exportAll, idsOf, kickOff, pathOf, poll, type Json } from './support.js';

/** FHIR Bulk Data Access IG v2 `$export`, driven as the ONC (g)(10) Multi-Patient API tests drive it. */
describe('bulk data $export', () => {
  let server: TestServer;
  const ids: Record<string, string> = {};
  const tokens: Record<string, string> = {};
  let sinceInstant: string;

  const create = async (label: string, body: Record<string, unknown>) => {
    const response = await fhirRequest(server.app, 'POST', `/fhir/${body.resourceType}`, body);
    expect(response.status, response.text).toBe(201);
    ids[label] = `${body.resourceType}/${response.body.id}`;
    return response.body as Json;
  };
  const observation = (patient: string, code: string) => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code }] },
    subject: { reference: ids[patient] },
    performer: [{ reference: ids.practitioner }],
  });

  beforeAll(async () => {
    server = await startTestServer();
    await create('practitioner', { resourceType: 'Practitioner', name: [{ family: 'Welby' }] });
    await create('unreferenced', { resourceType: 'Organization', name: 'Nobody refers to it' });
    await create('patientA', { resourceType: 'Patient', name: [{ family: 'Alpha' }] });
    await create('patientB', { resourceType: 'Patient', name: [{ family: 'Bravo' }] });
    await create('obsA1', observation('patientA', '8867-4'));
    await create('obsB1', observation('patientB', '8867-4'));
    await create('encounterB', { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: ids.patientB } });
    const last = await create('conditionA', { resourceType: 'Condition', subject: { reference: ids.patientA }, code: { text: 'asthma' } });
    sinceInstant = last.meta.lastUpdated;
    await new Promise((resolve) => setTimeout(resolve, 20));
    await create('patientC', { resourceType: 'Patient', name: [{ family: 'Charlie' }] });
    await create('obsA2', observation('patientA', '2345-7'));
    await create('obsC1', observation('patientC', '2345-7'));
    await create('group', {
      resourceType: 'Group',
      type: 'person',
      actual: true,
      member: [{ entity: { reference: ids.patientA } }, { entity: { reference: ids.patientC } }],
    });
    const patientA = ids.patientA.split('/')[1];
    tokens.observationOnly = await server.auth.tokens.issue({ sub: 'obs-service', client_id: 'obs-service', scope: 'system/Observation.rs' });
    tokens.noRead = await server.auth.tokens.issue({ sub: 'writer', client_id: 'writer', scope: 'system/Observation.c' });
    tokens.other = await server.auth.tokens.issue({ sub: 'other', client_id: 'other', scope: 'system/*.rs' });
    tokens.patientA = await server.auth.tokens.issue({ sub: 'user-a', client_id: 'app', scope: 'patient/*.rs', role: 'patient', fhirUser: ids.patientA, patient: patientA });
  });
  afterAll(async () => server?.close());

  describe('kick-off', () => {
    it('needs Prefer: respond-async (400 OperationOutcome without it)', async () => {
      const response = await fhirRequest(server.app, 'GET', '/fhir/$export', undefined, { accept: 'application/fhir+json' });
      expect(response.status).toBe(400);
      expect(response.body.resourceType).toBe('OperationOutcome');
      expect(response.headers['content-location']).toBeUndefined();
    });

    it('refuses an unknown _type, an unsupported _outputFormat and a _since that is not an instant (400)', async () => {
      for (const query of ['_type=Patient,Nonsense', '_outputFormat=text/csv', '_outputFormat=application/fhir+json', '_since=yesterday', '_since=2024-01-01']) {
        const { response, status } = await kickOff(server, `/fhir/$export?${query}`);
        expect(response.status, query).toBe(400);
        expect(response.body.resourceType).toBe('OperationOutcome');
        expect(status).toBeUndefined();
      }
    });

    it('refuses parameters it does not run, unless Prefer: handling=lenient', async () => {
      const strict = await kickOff(server, '/fhir/$export?_elements=id');
      expect(strict.response.status).toBe(400);
      const lenient = await kickOff(server, '/fhir/$export?_type=Patient&_elements=id', { prefer: 'respond-async, handling=lenient' });
      expect(lenient.response.status).toBe(202);
      await fhirRequest(server.app, 'DELETE', lenient.status as string);
    });

    it('takes the three NDJSON spellings of _outputFormat', async () => {
      for (const format of ['application/fhir+ndjson', 'application/ndjson', 'ndjson']) {
        const { response, status } = await kickOff(server, `/fhir/Group/${ids.group.split('/')[1]}/$export?_outputFormat=${encodeURIComponent(format)}`);
        expect(response.status, format).toBe(202);
        expect((await fhirRequest(server.app, 'DELETE', status as string)).status).toBe(202);
      }
    });

    it('needs a token (401) with some read scope (403)', async () => {
      const anonymous = await kickOff(server, '/fhir/$export', { authorization: '' });
      expect(anonymous.response.status).toBe(401);
      const noRead = await kickOff(server, '/fhir/$export', bearer(tokens.noRead));
      expect(noRead.response.status).toBe(403);
      const unreadableType = await kickOff(server, '/fhir/$export?_type=Patient', bearer(tokens.observationOnly));
      expect(unreadableType.response.status).toBe(403);
    });

    it('answers 404 for a Group that does not exist', async () => {
      const { response } = await kickOff(server, '/fhir/Group/no-such-group/$export');
      expect(response.status).toBe(404);
    });
  });

  describe('system level', () => {
    it('exports exactly the stored resources of the asked types, with a manifest of URLs and counts', async () => {
      const { manifest, resources } = await exportAll(server, '/fhir/$export?_type=Patient,Observation');
      expect(manifest.requiresAccessToken).toBe(true);
      expect(manifest.error).toEqual([]);
      expect(manifest.request).toContain('/fhir/$export?_type=Patient');
      expect(Number.isNaN(Date.parse(manifest.transactionTime))).toBe(false);
      expect(manifest.output.map((o: Json) => o.type).sort()).toEqual(['Observation', 'Patient']);
      for (const file of manifest.output) expect(file.url).toMatch(/^http:\/\/fhir\.test\/fhir\/bulk-export\//);
      expect(idsOf(resources.Patient)).toEqual([ids.patientA, ids.patientB, ids.patientC].sort());
      expect(idsOf(resources.Observation)).toEqual([ids.obsA1, ids.obsA2, ids.obsB1, ids.obsC1].sort());
      for (const resource of [...resources.Patient, ...resources.Observation]) {
        const read = await fhirRequest(server.app, 'GET', `/fhir/${resource.resourceType}/${resource.id}`);
        expect(resource).toEqual(read.body);
      }
    });

    it('takes its parameters from a POSTed Parameters resource too', async () => {
      const body = {
        resourceType: 'Parameters',
        parameter: [
          { name: '_type', valueString: 'Encounter' },
          { name: '_outputFormat', valueString: 'application/fhir+ndjson' },
        ],
      };
      const { response, status } = await kickOff(server, '/fhir/$export', {}, 'POST', body);
      expect(response.status, response.text).toBe(202);
      const done = await poll(server, status as string);
      expect(done.status).toBe(200);
      const resources = await download(server, done.body);
      expect(idsOf(resources.Encounter)).toEqual([ids.encounterB]);
    });

    it('exports only resources changed after _since', async () => {
      const { resources } = await exportAll(server, `/fhir/$export?_type=Patient,Observation,Condition&_since=${encodeURIComponent(sinceInstant)}`);
      expect(idsOf([...(resources.Patient ?? []), ...(resources.Observation ?? []), ...(resources.Condition ?? [])])).toEqual(
        [ids.patientC, ids.obsA2, ids.obsC1].sort(),
      );
    });

    it('_typeFilter: a type with searches exports only what matches one of them; the other types all', async () => {
      const filter = (query: string) => `_typeFilter=${encodeURIComponent(query)}`;
      const { resources } = await exportAll(
        server,
        `/fhir/$export?_type=Patient,Observation&${filter('Observation?code=http://loinc.org|2345-7&subject=' + ids.patientA)}&${filter('Observation?subject:Patient.name=Bravo')}`,
      );
      expect(idsOf(resources.Observation)).toEqual([ids.obsA2, ids.obsB1].sort());
      expect(idsOf(resources.Patient)).toEqual([ids.patientA, ids.patientB, ids.patientC].sort());
      // One value may hold several searches, separated by commas; a comma inside a search stays an OR of values.
      const listed = await exportAll(server, `/fhir/$export?_type=Patient,Observation&${filter('Patient?name=Alpha,Charlie,Observation?code=8867-4')}`);
      expect(idsOf(listed.resources.Patient)).toEqual([ids.patientA, ids.patientC].sort());
      expect(idsOf(listed.resources.Observation)).toEqual([ids.obsA1, ids.obsB1].sort());
    });

    it('_typeFilter at group level narrows the members\' data', async () => {
      const groupId = ids.group.split('/')[1];
      const { resources } = await exportAll(server, `/fhir/Group/${groupId}/$export?_type=Observation&_typeFilter=${encodeURIComponent('Observation?code=8867-4')}`);
      expect(idsOf(resources.Observation)).toEqual([ids.obsA1]);
    });

    it.each([
      ['Nonsense?x=1', 'resource type'],
      ['Observation?nonsense=1', 'nonsense'],
      ['Observation?date=yesterday', 'date'],
      ['Observation?code=x&_count=1', '_count'],
      ['Condition?code=x', 'does not include'],
    ])('refuses _typeFilter=%s (400 naming what is wrong), and starts nothing', async (query, mention) => {
      const { response, status } = await kickOff(server, `/fhir/$export?_type=Patient,Observation&_typeFilter=${encodeURIComponent(query)}`);
      expect(response.status).toBe(400);
      expect(JSON.stringify(response.body.issue)).toContain(mention);
      expect(status).toBeUndefined();
    });

    it('with system/Observation.rs exports Observations only', async () => {
      const { manifest, resources } = await exportAll(server, '/fhir/$export', bearer(tokens.observationOnly));
      expect(manifest.output.map((o: Json) => o.type)).toEqual(['Observation']);
      expect(resources.Observation).toHaveLength(4);
    });

    it('a type without matches has no file; an empty export has an empty output', async () => {
      const { manifest } = await exportAll(server, '/fhir/$export?_type=Medication');
      expect(manifest.output).toEqual([]);
    });
  });

  describe('patient level', () => {
    it('exports the Patient compartments, the Patients, and the supporting resources they refer to', async () => {
      const { resources } = await exportAll(server, '/fhir/Patient/$export');
      // The R4 Patient compartment holds Group (member) and AuditEvent (patient) too; the admin token reads audit records.
      expect(Object.keys(resources).sort()).toEqual(['AuditEvent', 'Condition', 'Encounter', 'Group', 'Observation', 'Patient', 'Practitioner']);
      expect(idsOf(resources.Patient)).toEqual([ids.patientA, ids.patientB, ids.patientC].sort());
      expect(idsOf(resources.Observation)).toHaveLength(4);
      // The Observations' performer; the Organization nobody refers to is not exported.
      expect(idsOf(resources.Practitioner)).toEqual([ids.practitioner]);
      expect(resources.Organization).toBeUndefined();
    });

    it("a patient's token exports that patient's compartment and what it refers to only", async () => {
      const { resources } = await exportAll(server, '/fhir/Patient/$export', bearer(tokens.patientA));
      // Patient A's compartment: A, A's Observations and Condition, the Group A is a member of, and the Observations' performer.
      expect(idsOf(Object.values(resources).flat())).toEqual([ids.patientA, ids.obsA1, ids.obsA2, ids.conditionA, ids.group, ids.practitioner].sort());
    });
  });

  describe('group level', () => {
    it("exports the members' data only", async () => {
      const groupId = ids.group.split('/')[1];
      const { resources } = await exportAll(server, `/fhir/Group/${groupId}/$export`);
      expect(idsOf(resources.Patient)).toEqual([ids.patientA, ids.patientC].sort());
      expect(idsOf(resources.Observation)).toEqual([ids.obsA1, ids.obsA2, ids.obsC1].sort());
      expect(idsOf(resources.Condition)).toEqual([ids.conditionA]);
      expect(resources.Encounter).toBeUndefined(); // Patient B's
    });

    it('honours _type and _since at group level', async () => {
      const groupId = ids.group.split('/')[1];
      const { resources } = await exportAll(server, `/fhir/Group/${groupId}/$export?_type=Observation&_since=${encodeURIComponent(sinceInstant)}`);
      expect(idsOf(Object.values(resources).flat())).toEqual([ids.obsA2, ids.obsC1].sort());
    });
  });

  describe('status, files and cancellation', () => {
    it('audits each file download, naming the file and the requester', async () => {
      const { manifest } = await exportAll(server, '/fhir/$export?_type=Patient');
      await server.auth.audit?.flush();
      const { rows } = await server.db.query<{ content: { entity?: { query?: string }[]; agent: unknown[] } }>(
        `SELECT content FROM resource WHERE resource_type = 'AuditEvent' AND content @> '{"subtype":[{"code":"operation"}]}'`,
      );
      const queries = rows.flatMap((row) => (row.content.entity ?? []).map((entity) => Buffer.from(entity.query ?? '', 'base64').toString()));
      const file = pathOf(manifest.output[0].url).split('/').pop();
      expect(queries).toContainEqual(expect.stringMatching(new RegExp(`^\\$export file ${file} of bulk-export/`)));
    });

    it('only the client that started an export sees its status and files', async () => {
      const { manifest, status } = await exportAll(server, '/fhir/$export?_type=Patient');
      const file = pathOf(manifest.output[0].url);
      for (const path of [status, file]) {
        const other = await fhirRequest(server.app, 'GET', path, undefined, bearer(tokens.other));
        expect(other.status).toBe(404);
        expect(other.body.resourceType).toBe('OperationOutcome');
        const anonymous = await fhirRequest(server.app, 'GET', path, undefined, { authorization: '' });
        expect(anonymous.status).toBe(401);
      }
      expect((await fhirRequest(server.app, 'DELETE', status, undefined, bearer(tokens.other))).status).toBe(404);
      expect((await fhirRequest(server.app, 'GET', status)).status).toBe(200);
      expect((await fhirRequest(server.app, 'GET', `${status}/Observation-0.ndjson`)).status).toBe(404);
    });

    it('DELETE cancels an export and removes it: polling it is then 404', async () => {
      const { response, status } = await kickOff(server, '/fhir/Patient/$export');
      expect(response.status).toBe(202);
      const cancel = await fhirRequest(server.app, 'DELETE', status as string);
      expect(cancel.status).toBe(202);
      const after = await fhirRequest(server.app, 'GET', status as string, undefined, { accept: 'application/json' });
      expect(after.status).toBe(404);
      expect(after.body.resourceType).toBe('OperationOutcome');
      expect((await fhirRequest(server.app, 'DELETE', status as string)).status).toBe(404);
    });

    it('an unknown status URL is 404', async () => {
      expect((await fhirRequest(server.app, 'GET', '/fhir/bulk-export/not-a-job')).status).toBe(404);
      expect((await fhirRequest(server.app, 'GET', '/fhir/bulk-export/0190e1b2-0000-7000-8000-000000000000')).status).toBe(404);
    });
  });

  it('the CapabilityStatement names the three export operations', async () => {
    const statement = (await fhirRequest(server.app, 'GET', '/fhir/metadata', undefined, { authorization: '' })).body;
    expect(statement.instantiates).toContain('http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data');
    const rest = statement.rest[0];
    const definition = (operations: Json[]) => operations?.find((op: Json) => op.name === 'export')?.definition;
    expect(definition(rest.operation)).toBe('http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export');
    expect(definition(rest.resource.find((r: Json) => r.type === 'Patient').operation)).toBe('http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export');
    expect(definition(rest.resource.find((r: Json) => r.type === 'Group').operation)).toBe('http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export');
    expect(definition(rest.resource.find((r: Json) => r.type === 'Observation').operation)).toBeUndefined();
  });
});
