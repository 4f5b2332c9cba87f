import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FHIR_BASE, fhirRequest, startTestServer, type FhirTestResponse, type TestServer } from '../../support/test-server.js';
import { patient, storedRows } from './support.js';

/**
 * `Prefer: return=minimal | representation | OperationOutcome` (http.html#ops) on the writes that
 * answer with a resource: create, update, patch, conditional create. Without it we answer with the
 * resource (representation). The headers (Location, ETag, Last-Modified) are there in every case.
 */
describe('Prefer: return', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server.close();
  });

  function expectVersionHeaders(response: FhirTestResponse, id: string, version: number) {
    expect(response.headers.etag).toBe(`W/"${version}"`);
    expect(response.headers.location).toBe(`${FHIR_BASE}/Patient/${id}/_history/${version}`);
    expect(response.headers['last-modified']).toBeTruthy();
  }

  /** The id of the newest Patient, for writes whose answer has no body. */
  async function idFromLocation(response: FhirTestResponse): Promise<string> {
    const match = /\/Patient\/([^/]+)\/_history\/\d+$/.exec(String(response.headers.location));
    expect(match).not.toBeNull();
    return (match as RegExpExecArray)[1];
  }

  const writes = {
    create: async (prefer?: string) => fhirRequest(server.app, 'POST', '/fhir/Patient', patient(), prefer ? { prefer } : {}),
    update: async (prefer?: string) => {
      const id = (await fhirRequest(server.app, 'POST', '/fhir/Patient', patient())).body.id;
      return fhirRequest(server.app, 'PUT', `/fhir/Patient/${id}`, patient({ id, active: true }), prefer ? { prefer } : {});
    },
    patch: async (prefer?: string) => {
      const id = (await fhirRequest(server.app, 'POST', '/fhir/Patient', patient())).body.id;
      return fhirRequest(server.app, 'PATCH', `/fhir/Patient/${id}`, [{ op: 'add', path: '/active', value: true }], {
        'content-type': 'application/json-patch+json',
        ...(prefer ? { prefer } : {}),
      });
    },
  };
  const expectedStatus = { create: 201, update: 200, patch: 200 };
  const expectedVersion = { create: 1, update: 2, patch: 2 };

  describe.each(Object.keys(writes) as (keyof typeof writes)[])('%s', (write) => {
    it('answers with the resource when there is no Prefer header', async () => {
      const response = await writes[write]();
      expect(response.status).toBe(expectedStatus[write]);
      expect(response.body.resourceType).toBe('Patient');
      expect(response.body.meta.versionId).toBe(String(expectedVersion[write]));
      expectVersionHeaders(response, response.body.id, expectedVersion[write]);
    });

    it('answers with the resource for return=representation', async () => {
      const response = await writes[write]('return=representation');
      expect(response.status).toBe(expectedStatus[write]);
      expect(response.body.resourceType).toBe('Patient');
      expect(String(response.headers['content-type'])).toMatch(/^application\/fhir\+json/);
    });

    it('answers without a body for return=minimal, and still writes', async () => {
      const response = await writes[write]('return=minimal');
      expect(response.status).toBe(expectedStatus[write]);
      expect(response.text).toBe('');
      const id = await idFromLocation(response);
      expectVersionHeaders(response, id, expectedVersion[write]);
      expect((await storedRows(server, 'Patient', id)).current.version_id).toBe(expectedVersion[write]);
    });

    it('answers with an OperationOutcome for return=OperationOutcome', async () => {
      const response = await writes[write]('return=OperationOutcome');
      expect(response.status).toBe(expectedStatus[write]);
      expect(response.body.resourceType).toBe('OperationOutcome');
      expect(response.body.issue[0].severity).toBe('information');
      const id = await idFromLocation(response);
      expectVersionHeaders(response, id, expectedVersion[write]);
    });
  });

  it('reads the preference among other preferences, case-insensitively for the value', async () => {
    const response = await writes.create('respond-async, return=operationoutcome; handling=lenient');
    expect(response.body.resourceType).toBe('OperationOutcome');
    const quoted = await writes.create('return="minimal"');
    expect(quoted.text).toBe('');
  });

  it('answers with the resource for an unknown return value', async () => {
    const response = await writes.create('return=everything');
    expect(response.status).toBe(201);
    expect(response.body.resourceType).toBe('Patient');
  });

  describe('conditional create that finds its match', () => {
    const existing = async (prefer: string) => {
      const mrn = `prefer-${Math.random()}`;
      const body = patient({ identifier: [{ system: 'urn:test', value: mrn }] });
      const created = await fhirRequest(server.app, 'POST', '/fhir/Patient', body);
      const response = await fhirRequest(server.app, 'POST', '/fhir/Patient', body, { 'if-none-exist': `identifier=urn:test|${mrn}`, prefer });
      return { id: created.body.id as string, response };
    };

    it('answers 200 without a body for return=minimal', async () => {
      const { response } = await existing('return=minimal');
      expect(response.status).toBe(200);
      expect(response.text).toBe('');
      expect(response.headers.etag).toBe('W/"1"');
    });

    it('answers 200 with an OperationOutcome for return=OperationOutcome', async () => {
      const { response } = await existing('return=OperationOutcome');
      expect(response.status).toBe(200);
      expect(response.body.resourceType).toBe('OperationOutcome');
    });

    it('answers 200 with the existing resource for return=representation', async () => {
      const { id, response } = await existing('return=representation');
      expect(response.status).toBe(200);
      expect(response.body.id).toBe(id);
    });
  });

  it('does not change error answers: they are OperationOutcomes whatever the preference', async () => {
    const response = await fhirRequest(server.app, 'POST', '/fhir/Patient', patient({ gender: 'robot' }), { prefer: 'return=minimal' });
    expect(response.status).toBe(400);
    expect(response.body.resourceType).toBe('OperationOutcome');
  });
});
