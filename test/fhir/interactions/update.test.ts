import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FHIR_BASE, fhirRequest, startTestServer, type TestServer } from '../../support/test-server.js';
import { expectOperationOutcome, issueExpressions, patient, rowCounts, storedRows, tick } from './support.js';

/** update: PUT [type]/[id] (http.html#update), version-aware with If-Match (http.html#concurrency). */
describe('update', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server.close();
  });

  const put = (id: string, body: unknown, headers?: Record<string, string>) => fhirRequest(server.app, 'PUT', `/fhir/Patient/${id}`, body, headers);

  async function createPatient(): Promise<string> {
    const created = await fhirRequest(server.app, 'POST', '/fhir/Patient', patient());
    expect(created.status).toBe(201);
    return created.body.id;
  }

  async function expectNothingWritten(action: () => Promise<void>) {
    const before = await rowCounts(server);
    await action();
    expect(await rowCounts(server)).toEqual(before);
  }

  it('answers 200 with the new version, its versionId one higher, and ETag, Last-Modified and Location', async () => {
    const id = await createPatient();
    await tick();
    const response = await put(id, patient({ id, gender: 'female' }));

    expect(response.status).toBe(200);
    expect(response.body.gender).toBe('female');
    expect(response.body.meta.versionId).toBe('2');
    expect(response.headers.etag).toBe('W/"2"');
    expect(response.headers.location).toBe(`${FHIR_BASE}/Patient/${id}/_history/2`);
    expect(response.headers['last-modified']).toBe(new Date(response.body.meta.lastUpdated).toUTCString());

    const stored = await storedRows(server, 'Patient', id);
    expect(stored.current.version_id).toBe(2);
    expect(stored.current.content?.gender).toBe('female');
  });

  it('keeps every version in the history, each with its own content', async () => {
    const id = await createPatient();
    await put(id, patient({ id, gender: 'female' }));
    await put(id, patient({ id, gender: 'other' }));

    const stored = await storedRows(server, 'Patient', id);
    expect(stored.history.map((h) => [h.version_id, h.method, h.content?.gender])).toEqual([
      [1, 'POST', 'male'],
      [2, 'PUT', 'female'],
      [3, 'PUT', 'other'],
    ]);
  });

  it('moves meta.lastUpdated forward and ignores the versionId the client sends', async () => {
    const id = await createPatient();
    const first = await fhirRequest(server.app, 'GET', `/fhir/Patient/${id}`);
    await tick();
    const response = await put(id, patient({ id, meta: { versionId: '42', lastUpdated: '2000-01-01T00:00:00Z' } }));

    expect(response.body.meta.versionId).toBe('2');
    expect(Date.parse(response.body.meta.lastUpdated)).toBeGreaterThan(Date.parse(first.body.meta.lastUpdated));
  });

  it('replaces the whole resource: elements missing from the body are gone', async () => {
    const id = await createPatient();
    const response = await put(id, { resourceType: 'Patient', id, active: true });

    expect(response.body.name).toBeUndefined();
    expect(response.body.birthDate).toBeUndefined();
    expect(response.body.active).toBe(true);
  });

  it('creates the resource with the client\'s id when it does not exist (update as create): 201', async () => {
    const response = await put('client-id-1', patient({ id: 'client-id-1' }));

    expect(response.status).toBe(201);
    expect(response.body.id).toBe('client-id-1');
    expect(response.body.meta.versionId).toBe('1');
    expect(response.headers.location).toBe(`${FHIR_BASE}/Patient/client-id-1/_history/1`);
    expect(response.headers.etag).toBe('W/"1"');
    const stored = await storedRows(server, 'Patient', 'client-id-1');
    expect(stored.history.map((h) => h.method)).toEqual(['PUT']);
  });

  it('re-creates a deleted resource as the next version, and it can be read again', async () => {
    const id = await createPatient();
    await fhirRequest(server.app, 'DELETE', `/fhir/Patient/${id}`);

    const response = await put(id, patient({ id, gender: 'female' }));
    expect(response.status).toBe(201);
    expect(response.body.meta.versionId).toBe('3');
    expect(response.headers.etag).toBe('W/"3"');

    const read = await fhirRequest(server.app, 'GET', `/fhir/Patient/${id}`);
    expect(read.status).toBe(200);
    expect(read.body.gender).toBe('female');
    const stored = await storedRows(server, 'Patient', id);
    expect(stored.history.map((h) => h.method)).toEqual(['POST', 'DELETE', 'PUT']);
    expect(stored.current.deleted).toBe(false);
  });

  describe('rejects, and writes nothing', () => {
    it('answers 400 when the body has no id', async () => {
      const id = await createPatient();
      await expectNothingWritten(async () => {
        const response = await put(id, patient());
        expectOperationOutcome(response, 400);
        expect(issueExpressions(response)).toContain('id');
      });
    });

    it('answers 400 when the body\'s id differs from the URL\'s', async () => {
      const id = await createPatient();
      await expectNothingWritten(async () => {
        const response = await put(id, patient({ id: 'someone-else' }));
        expectOperationOutcome(response, 400);
      });
      expect((await storedRows(server, 'Patient', 'someone-else')).current).toBeUndefined();
    });

    it('answers 400 when the body\'s type differs from the URL\'s', async () => {
      const id = await createPatient();
      await expectNothingWritten(async () => {
        expectOperationOutcome(await put(id, { resourceType: 'Practitioner', id }), 400);
      });
    });

    it('answers 400 for an invalid id in the URL', async () => {
      await expectNothingWritten(async () => {
        expectOperationOutcome(await put('bad_id', patient({ id: 'bad_id' })), 400);
      });
    });

    it('answers 400 with the element\'s expression for an invalid resource, and the current version stays', async () => {
      const id = await createPatient();
      await expectNothingWritten(async () => {
        const response = await put(id, patient({ id, birthDate: '1974-02-30' }));
        expectOperationOutcome(response, 400);
        expect(issueExpressions(response)).toContain('Patient.birthDate');
      });
      const read = await fhirRequest(server.app, 'GET', `/fhir/Patient/${id}`);
      expect(read.body.meta.versionId).toBe('1');
    });

    it('answers 400 for an update-as-create of an invalid resource', async () => {
      await expectNothingWritten(async () => {
        expectOperationOutcome(await put('new-but-invalid', patient({ id: 'new-but-invalid', gender: 'x' })), 400);
      });
    });
  });

  describe('version-aware update (If-Match)', () => {
    it('answers 200 when If-Match names the current version', async () => {
      const id = await createPatient();
      const response = await put(id, patient({ id, active: true }), { 'if-match': 'W/"1"' });

      expect(response.status).toBe(200);
      expect(response.body.meta.versionId).toBe('2');
    });

    it('answers 412 with an OperationOutcome when If-Match names an older version, and writes nothing', async () => {
      const id = await createPatient();
      await put(id, patient({ id, active: true }));

      await expectNothingWritten(async () => {
        const response = await put(id, patient({ id, active: false }), { 'if-match': 'W/"1"' });
        expectOperationOutcome(response, 412);
        expect(response.body.issue[0].code).toBe('conflict');
      });
      const read = await fhirRequest(server.app, 'GET', `/fhir/Patient/${id}`);
      expect(read.body.active).toBe(true);
    });

    it('answers 412 for If-Match on a resource that does not exist', async () => {
      await expectNothingWritten(async () => {
        expectOperationOutcome(await put('not-there', patient({ id: 'not-there' }), { 'if-match': 'W/"1"' }), 412);
      });
    });

    it('answers 400 for a malformed If-Match', async () => {
      const id = await createPatient();
      await expectNothingWritten(async () => {
        expectOperationOutcome(await put(id, patient({ id }), { 'if-match': 'version one' }), 400);
      });
    });

    it('lets exactly one of two updates based on the same version win', async () => {
      const id = await createPatient();
      const [a, b] = await Promise.all([
        put(id, patient({ id, gender: 'female' }), { 'if-match': 'W/"1"' }),
        put(id, patient({ id, gender: 'other' }), { 'if-match': 'W/"1"' }),
      ]);

      expect([a.status, b.status].sort()).toEqual([200, 412]);
      const stored = await storedRows(server, 'Patient', id);
      expect(stored.history).toHaveLength(2);
    });
  });
});
