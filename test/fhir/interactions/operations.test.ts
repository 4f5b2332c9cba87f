import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, startTestServer, type FhirTestResponse, type TestServer } from '../../support/test-server.js';
import { expectOperationOutcome, patient, rowCounts, storedRows } from './support.js';

const TAG_SYSTEM = 'http://example.org/tags';
const tag = (code: string) => ({ system: TAG_SYSTEM, code });
const metaParameters = (meta: Record<string, unknown>) => ({ resourceType: 'Parameters', parameter: [{ name: 'meta', valueMeta: meta }] });

/** The `return` Meta of a $meta, $meta-add or $meta-delete answer. */
function returnedMeta(response: FhirTestResponse) {
  expect(response.status, response.text).toBe(200);
  expect(response.body.resourceType).toBe('Parameters');
  const parameter = response.body.parameter.find((p: { name: string }) => p.name === 'return');
  expect(parameter).toBeDefined();
  return parameter.valueMeta;
}

/** Operations (operations.html): $validate, $meta, $meta-add, $meta-delete. */
describe('operations', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server.close();
  });

  const post = (url: string, body?: unknown) => fhirRequest(server.app, 'POST', url, body);

  async function createPatient(extra: Record<string, unknown> = {}): Promise<string> {
    const created = await post('/fhir/Patient', patient(extra));
    expect(created.status).toBe(201);
    return created.body.id;
  }

  async function expectNothingWritten(action: () => Promise<void>) {
    const before = await rowCounts(server);
    await action();
    expect(await rowCounts(server)).toEqual(before);
  }

  /**
   * $validate (resource-operation-validate.html) answers 200 with an OperationOutcome listing every
   * issue, or one informational issue when there are none. It never stores anything.
   */
  describe('$validate', () => {
    const errorsOf = (response: FhirTestResponse) =>
      response.body.issue.filter((i: { severity: string }) => i.severity === 'error' || i.severity === 'fatal');
    const expressionsOf = (response: FhirTestResponse) => errorsOf(response).flatMap((i: { expression?: string[] }) => i.expression ?? []);

    function expectValid(response: FhirTestResponse) {
      expect(response.status, response.text).toBe(200);
      expect(response.body.resourceType).toBe('OperationOutcome');
      expect(errorsOf(response)).toEqual([]);
      expect(response.body.issue[0].severity).toBe('information');
    }

    it('type level: a valid resource is valid, and nothing is stored', async () => {
      await expectNothingWritten(async () => {
        expectValid(await post('/fhir/Patient/$validate', patient()));
      });
    });

    it('type level: lists every error of an invalid resource with its expression, and nothing is stored', async () => {
      await expectNothingWritten(async () => {
        const response = await post('/fhir/Patient/$validate', patient({ gender: 'robot', birthDate: '2020-13-45' }));
        expect(response.status).toBe(200);
        expect(response.body.resourceType).toBe('OperationOutcome');
        expect(expressionsOf(response)).toEqual(expect.arrayContaining(['Patient.gender', 'Patient.birthDate']));
      });
    });

    it('reports a required element that is missing', async () => {
      const response = await post('/fhir/Observation/$validate', { resourceType: 'Observation', status: 'final' });
      expect(expressionsOf(response)).toContain('Observation.code');
    });

    it('reports a resource of another type than the URL\'s', async () => {
      const response = await post('/fhir/Patient/$validate', { resourceType: 'Organization', name: 'Acme' });
      expect(response.status).toBe(200);
      expect(expressionsOf(response)).toContain('resourceType');
    });

    it('takes the resource and the mode from a Parameters body', async () => {
      const valid = await post('/fhir/Patient/$validate', {
        resourceType: 'Parameters',
        parameter: [
          { name: 'resource', resource: patient() },
          { name: 'mode', valueCode: 'create' },
        ],
      });
      expectValid(valid);

      const invalid = await post('/fhir/Patient/$validate', { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: patient({ gender: 'x' }) }] });
      expect(expressionsOf(invalid)).toContain('Patient.gender');
    });

    it('mode=create (the default) does not require an id', async () => {
      expectValid(await post('/fhir/Patient/$validate?mode=create', patient()));
    });

    it('mode=update requires the resource id', async () => {
      const response = await post('/fhir/Patient/$validate?mode=update', patient());
      expect(response.status).toBe(200);
      expect(expressionsOf(response)).toContain('Patient.id');
      expectValid(await post('/fhir/Patient/$validate?mode=update', patient({ id: 'some-id' })));
    });

    it('instance level, mode=update: the id must be the URL\'s', async () => {
      const id = await createPatient();
      expectValid(await post(`/fhir/Patient/${id}/$validate?mode=update`, patient({ id, gender: 'female' })));

      const other = await post(`/fhir/Patient/${id}/$validate?mode=update`, patient({ id: 'another-id' }));
      expect(expressionsOf(other)).toContain('Patient.id');
    });

    it('instance level: validates without changing the resource', async () => {
      const id = await createPatient();
      await expectNothingWritten(async () => {
        const response = await post(`/fhir/Patient/${id}/$validate`, patient({ id, gender: 'robot' }));
        expect(expressionsOf(response)).toContain('Patient.gender');
      });
      expect((await storedRows(server, 'Patient', id)).current.content?.gender).toBe('male');
    });

    it('instance level, mode=delete: an existing resource may be deleted, and is not', async () => {
      const id = await createPatient();
      await expectNothingWritten(async () => {
        expectValid(await post(`/fhir/Patient/${id}/$validate?mode=delete`));
      });
      expect((await storedRows(server, 'Patient', id)).current.deleted).toBe(false);
    });

    it('mode=delete answers 404 for a resource that does not exist', async () => {
      expectOperationOutcome(await post('/fhir/Patient/not-there/$validate?mode=delete'), 404);
    });

    it('mode=delete given in a Parameters body', async () => {
      const id = await createPatient();
      expectValid(await post(`/fhir/Patient/${id}/$validate`, { resourceType: 'Parameters', parameter: [{ name: 'mode', valueCode: 'delete' }] }));
    });

    it('mode=delete at type level answers 400: there is nothing to delete', async () => {
      expectOperationOutcome(await post('/fhir/Patient/$validate?mode=delete'), 400);
    });

    it('reports a profile it cannot validate against as an error, never as a pass (resource-operation-validate.html)', async () => {
      const profile = 'http://example.org/StructureDefinition/my-patient';
      await expectNothingWritten(async () => {
        const response = await post(`/fhir/Patient/$validate?profile=${encodeURIComponent(profile)}`, patient());
        expect(response.status).toBe(200);
        expect(errorsOf(response)).toEqual([expect.objectContaining({ code: 'not-supported', diagnostics: expect.stringContaining(profile) })]);
      });
    });

    it('takes the profile from a Parameters body too', async () => {
      const profile = 'http://example.org/StructureDefinition/my-patient';
      const response = await post('/fhir/Patient/$validate', {
        resourceType: 'Parameters',
        parameter: [
          { name: 'resource', resource: patient() },
          { name: 'profile', valueUri: profile },
        ],
      });
      expect(errorsOf(response)).toEqual([expect.objectContaining({ code: 'not-supported', diagnostics: expect.stringContaining(profile) })]);
    });

    it('validates against the base definition of the type when that is the profile named', async () => {
      expectValid(await post(`/fhir/Patient/$validate?profile=${encodeURIComponent('http://hl7.org/fhir/StructureDefinition/Patient')}`, patient()));
      expectValid(await post(`/fhir/Patient/$validate?profile=${encodeURIComponent('http://hl7.org/fhir/StructureDefinition/Patient|4.0.1')}`, patient()));
    });

    it('answers 400 for an unknown mode', async () => {
      expectOperationOutcome(await post('/fhir/Patient/$validate?mode=upsert', patient()), 400);
    });

    it('answers 400 when there is no resource to validate', async () => {
      expectOperationOutcome(await post('/fhir/Patient/$validate', { resourceType: 'Parameters', parameter: [] }), 400);
    });

    it('answers 405 with Allow: POST for GET', async () => {
      const response = await fhirRequest(server.app, 'GET', '/fhir/Patient/$validate');
      expectOperationOutcome(response, 405);
      expect(response.headers.allow).toBe('POST');
    });

    it('is not a system-level operation', async () => {
      expectOperationOutcome(await post('/fhir/$validate', patient()), 404);
    });
  });

  describe('$meta', () => {
    it('instance level answers the resource\'s meta, versionId and lastUpdated included', async () => {
      const id = await createPatient({ meta: { tag: [tag('a')], profile: ['http://example.org/StructureDefinition/p1'] } });
      const meta = returnedMeta(await fhirRequest(server.app, 'GET', `/fhir/Patient/${id}/$meta`));

      expect(meta.tag).toEqual([tag('a')]);
      expect(meta.profile).toEqual(['http://example.org/StructureDefinition/p1']);
      expect(meta.versionId).toBe('1');
      expect(meta.lastUpdated).toBeTruthy();
    });

    it('may be called with POST too', async () => {
      const id = await createPatient({ meta: { tag: [tag('post')] } });
      expect(returnedMeta(await post(`/fhir/Patient/${id}/$meta`)).tag).toEqual([tag('post')]);
    });

    it('instance level answers 404 for a missing resource and 410 for a deleted one', async () => {
      expectOperationOutcome(await fhirRequest(server.app, 'GET', '/fhir/Patient/missing/$meta'), 404);
      const id = await createPatient();
      await fhirRequest(server.app, 'DELETE', `/fhir/Patient/${id}`);
      expectOperationOutcome(await fhirRequest(server.app, 'GET', `/fhir/Patient/${id}/$meta`), 410);
    });

    it('type level answers the tags, profiles and security labels in use by current resources of that type', async () => {
      const basic = (meta: Record<string, unknown>) => post('/fhir/Basic', { resourceType: 'Basic', code: { text: 'x' }, meta });
      await basic({ tag: [tag('t1')], profile: ['http://example.org/StructureDefinition/b'] });
      await basic({ tag: [tag('t1'), tag('t2')], security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] });
      const gone = await basic({ tag: [tag('t-deleted')] });
      await fhirRequest(server.app, 'DELETE', `/fhir/Basic/${gone.body.id}`);
      await createPatient({ meta: { tag: [tag('patient-only')] } });

      const meta = returnedMeta(await fhirRequest(server.app, 'GET', '/fhir/Basic/$meta'));
      expect(meta.tag).toHaveLength(2);
      expect(meta.tag).toEqual(expect.arrayContaining([tag('t1'), tag('t2')]));
      expect(meta.profile).toEqual(['http://example.org/StructureDefinition/b']);
      expect(meta.security).toEqual([{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }]);
    });

    it('type level answers an empty Meta for a type with no resources', async () => {
      const meta = returnedMeta(await fhirRequest(server.app, 'GET', '/fhir/Questionnaire/$meta'));
      expect(meta.tag ?? []).toEqual([]);
      expect(meta.profile ?? []).toEqual([]);
    });

    it('system level answers the tags in use across all types', async () => {
      await createPatient({ meta: { tag: [tag('system-p')] } });
      await post('/fhir/Organization', { resourceType: 'Organization', name: 'Acme', meta: { tag: [tag('system-o')] } });

      const meta = returnedMeta(await fhirRequest(server.app, 'GET', '/fhir/$meta'));
      expect(meta.tag).toEqual(expect.arrayContaining([tag('system-p'), tag('system-o')]));
    });
  });

  describe('$meta-add and $meta-delete', () => {
    it('$meta-add adds tags, profiles and security labels, as a new version, and answers the resulting meta', async () => {
      const id = await createPatient({ meta: { tag: [tag('existing')] } });
      const security = { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'TABOO' };
      const response = await post(
        `/fhir/Patient/${id}/$meta-add`,
        metaParameters({ tag: [tag('added'), tag('existing')], profile: ['http://example.org/StructureDefinition/p2'], security: [security] }),
      );

      const meta = returnedMeta(response);
      expect(meta.tag).toEqual([tag('existing'), tag('added')]);
      expect(meta.profile).toEqual(['http://example.org/StructureDefinition/p2']);
      expect(meta.security).toEqual([security]);

      const stored = await storedRows(server, 'Patient', id);
      expect(stored.current.version_id).toBe(2);
      expect(stored.history).toHaveLength(2);
      expect((stored.current.content?.meta as { tag: unknown[] }).tag).toEqual([tag('existing'), tag('added')]);
      const read = await fhirRequest(server.app, 'GET', `/fhir/Patient/${id}`);
      expect(read.body.meta.tag).toEqual([tag('existing'), tag('added')]);
      expect(read.body.name).toEqual(patient().name);
    });

    it('$meta-add treats a tag with the same system and code as already there', async () => {
      const id = await createPatient({ meta: { tag: [tag('same')] } });
      const meta = returnedMeta(await post(`/fhir/Patient/${id}/$meta-add`, metaParameters({ tag: [{ ...tag('same'), display: 'Same' }] })));
      expect(meta.tag).toEqual([tag('same')]);
    });

    it('$meta-delete removes the named tags and profiles and keeps the others', async () => {
      const id = await createPatient({ meta: { tag: [tag('keep'), tag('drop')], profile: ['http://example.org/StructureDefinition/p3'] } });
      const response = await post(`/fhir/Patient/${id}/$meta-delete`, metaParameters({ tag: [tag('drop')], profile: ['http://example.org/StructureDefinition/p3'] }));

      const meta = returnedMeta(response);
      expect(meta.tag).toEqual([tag('keep')]);
      expect(meta.profile).toBeUndefined();
      const read = await fhirRequest(server.app, 'GET', `/fhir/Patient/${id}`);
      expect(read.body.meta.tag).toEqual([tag('keep')]);
      expect(read.body.meta.versionId).toBe('2');
    });

    it('$meta-delete of the last tag leaves no empty tag list', async () => {
      const id = await createPatient({ meta: { tag: [tag('only')] } });
      const meta = returnedMeta(await post(`/fhir/Patient/${id}/$meta-delete`, metaParameters({ tag: [tag('only')] })));
      expect(meta.tag).toBeUndefined();
      const stored = await storedRows(server, 'Patient', id);
      expect((stored.current.content?.meta as Record<string, unknown>).tag).toBeUndefined();
    });

    it('changes what type-level $meta reports', async () => {
      const created = await post('/fhir/Medication', { resourceType: 'Medication', code: { text: 'x' } });
      await post(`/fhir/Medication/${created.body.id}/$meta-add`, metaParameters({ tag: [tag('med')] }));
      expect(returnedMeta(await fhirRequest(server.app, 'GET', '/fhir/Medication/$meta')).tag).toEqual([tag('med')]);

      await post(`/fhir/Medication/${created.body.id}/$meta-delete`, metaParameters({ tag: [tag('med')] }));
      expect(returnedMeta(await fhirRequest(server.app, 'GET', '/fhir/Medication/$meta')).tag ?? []).toEqual([]);
    });

    it('answers 404 for a resource that does not exist, and creates nothing', async () => {
      await expectNothingWritten(async () => {
        expectOperationOutcome(await post('/fhir/Patient/nobody/$meta-add', metaParameters({ tag: [tag('x')] })), 404);
        expectOperationOutcome(await post('/fhir/Patient/nobody/$meta-delete', metaParameters({ tag: [tag('x')] })), 404);
      });
    });

    it('answers 410 for a deleted resource, and writes nothing', async () => {
      const id = await createPatient();
      await fhirRequest(server.app, 'DELETE', `/fhir/Patient/${id}`);
      await expectNothingWritten(async () => {
        expectOperationOutcome(await post(`/fhir/Patient/${id}/$meta-add`, metaParameters({ tag: [tag('x')] })), 410);
        expectOperationOutcome(await post(`/fhir/Patient/${id}/$meta-delete`, metaParameters({ tag: [tag('x')] })), 410);
      });
    });

    it('answers 400 without a meta parameter, and writes nothing', async () => {
      const id = await createPatient();
      await expectNothingWritten(async () => {
        expectOperationOutcome(await post(`/fhir/Patient/${id}/$meta-add`, { resourceType: 'Parameters', parameter: [] }), 400);
        expectOperationOutcome(await post(`/fhir/Patient/${id}/$meta-delete`, patient()), 400);
      });
    });

    it('answers 405 for GET, as they change state', async () => {
      const id = await createPatient();
      expectOperationOutcome(await fhirRequest(server.app, 'GET', `/fhir/Patient/${id}/$meta-add`), 405);
      expectOperationOutcome(await fhirRequest(server.app, 'GET', `/fhir/Patient/${id}/$meta-delete`), 405);
    });

    it('are instance-level only', async () => {
      expectOperationOutcome(await post('/fhir/Patient/$meta-add', metaParameters({ tag: [tag('x')] })), 404);
      expectOperationOutcome(await post('/fhir/$meta-delete', metaParameters({ tag: [tag('x')] })), 404);
    });
  });
});
