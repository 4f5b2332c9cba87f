import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FHIR_BASE, fhirRequest, startTestServer, type TestServer } from '../../support/test-server.js';
import { expectOperationOutcome, issueExpressions, issueText, observation, patient, rowCounts, storedRows } from './support.js';

/** create: POST [base]/[type] (http.html#create). */
describe('create', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server.close();
  });

  const post = (type: string, body: unknown) => fhirRequest(server.app, 'POST', `/fhir/${type}`, body);

  it('answers 201 with the stored resource under a server-assigned id, ignoring the id in the body', async () => {
    const response = await post('Patient', patient({ id: 'client-chosen' }));

    expect(response.status).toBe(201);
    expect(response.body.resourceType).toBe('Patient');
    expect(response.body.id).toMatch(/^[A-Za-z0-9\-.]{1,64}$/);
    expect(response.body.id).not.toBe('client-chosen');
    expect(response.body.name).toEqual([{ family: 'Chalmers', given: ['Peter'] }]);

    const stored = await storedRows(server, 'Patient', response.body.id);
    expect(stored.current).toMatchObject({ version_id: 1, deleted: false });
    expect(stored.current.content).toMatchObject({ id: response.body.id, birthDate: '1974-12-25' });
    expect(stored.history).toHaveLength(1);
    expect(stored.history[0]).toMatchObject({ version_id: 1, method: 'POST' });
    const { rows } = await server.db.query("SELECT count(*)::int AS n FROM resource WHERE id = 'client-chosen'");
    expect(rows[0].n).toBe(0);
  });

  it('sets meta.versionId to "1" and meta.lastUpdated to the time of the write', async () => {
    const before = Date.now();
    const response = await post('Patient', patient({ meta: { versionId: '99', lastUpdated: '2001-01-01T00:00:00Z' } }));
    const after = Date.now();

    expect(response.status).toBe(201);
    expect(response.body.meta.versionId).toBe('1');
    const lastUpdated = Date.parse(response.body.meta.lastUpdated);
    expect(lastUpdated).toBeGreaterThanOrEqual(before);
    expect(lastUpdated).toBeLessThanOrEqual(after);
    expect(response.body.meta.lastUpdated).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  });

  it('keeps the client\'s meta tags and profiles while setting versionId and lastUpdated', async () => {
    const tag = { system: 'http://example.org/tags', code: 'vip' };
    const response = await post('Patient', patient({ meta: { tag: [tag], profile: ['http://example.org/StructureDefinition/p'] } }));

    expect(response.status).toBe(201);
    expect(response.body.meta.tag).toEqual([tag]);
    expect(response.body.meta.profile).toEqual(['http://example.org/StructureDefinition/p']);
    expect(response.body.meta.versionId).toBe('1');
  });

  it('answers with Location [base]/[type]/[id]/_history/1, ETag W/"1" and Last-Modified', async () => {
    const response = await post('Patient', patient());

    expect(response.headers.location).toBe(`${FHIR_BASE}/Patient/${response.body.id}/_history/1`);
    expect(response.headers.etag).toBe('W/"1"');
    expect(response.headers['last-modified']).toBe(new Date(response.body.meta.lastUpdated).toUTCString());
    expect(String(response.headers['content-type'])).toMatch(/^application\/fhir\+json/);
  });

  it('assigns a different id to every created resource', async () => {
    const first = await post('Patient', patient());
    const second = await post('Patient', patient());

    expect(first.body.id).not.toBe(second.body.id);
  });

  it.each([
    ['Observation', observation()],
    ['Encounter', { resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' } }],
    ['Organization', { resourceType: 'Organization', name: 'Burgers University Medical Center', active: true }],
    ['Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Careful', prefix: ['Dr'] }] }],
    ['Condition', { resourceType: 'Condition', subject: { reference: 'Patient/example' }, code: { text: 'Asthma' } }],
    ['Medication', { resourceType: 'Medication', code: { text: 'Aspirin 100mg' } }],
    ['Basic', { resourceType: 'Basic', code: { text: 'anything' } }],
  ])('creates a %s', async (type, body) => {
    const response = await post(type, body);

    expect(response.status, response.text).toBe(201);
    expect(response.body.resourceType).toBe(type);
    expect(response.headers.location).toBe(`${FHIR_BASE}/${type}/${response.body.id}/_history/1`);
    const stored = await storedRows(server, type, response.body.id);
    expect(stored.current.version_id).toBe(1);
    expect(stored.history.map((h) => h.method)).toEqual(['POST']);

    const read = await fhirRequest(server.app, 'GET', `/fhir/${type}/${response.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(response.body);
  });

  describe('rejects, and writes nothing', () => {
    async function expectRejected(type: string, body: unknown, status: number, headers: Record<string, string> = {}) {
      const before = await rowCounts(server);
      const response = await fhirRequest(server.app, 'POST', `/fhir/${type}`, body, headers);
      expectOperationOutcome(response, status);
      expect(response.headers.location).toBeUndefined();
      expect(await rowCounts(server)).toEqual(before);
      return response;
    }

    it('answers 404 for an unknown resource type', async () => {
      const response = await expectRejected('Foo', { resourceType: 'Foo' }, 404);
      expect(issueText(response)).toContain('Foo');
    });

    it('answers 404 for a resource type spelled in the wrong case', async () => {
      await expectRejected('patient', { resourceType: 'patient' }, 404);
    });

    it('answers 400 when the body\'s resourceType differs from the URL\'s', async () => {
      const response = await expectRejected('Patient', observation(), 400);
      expect(issueText(response)).toContain('Observation');
      expect(issueExpressions(response)).toContain('resourceType');
    });

    it('answers 400 when the body has no resourceType', async () => {
      await expectRejected('Patient', { name: [{ family: 'X' }] }, 400);
    });

    it('answers 400 when the body is not a JSON object', async () => {
      await expectRejected('Patient', [patient()], 400);
    });

    it('answers 400 when there is no body', async () => {
      await expectRejected('Patient', undefined, 400);
    });

    it('answers 400 pointing at Patient.birthDate for an impossible date', async () => {
      const response = await expectRejected('Patient', patient({ birthDate: '2020-13-45' }), 400);
      expect(issueExpressions(response)).toContain('Patient.birthDate');
    });

    it.each(['1974-02-30', '2023-02-29', '2024-04-31'])('answers 400 pointing at Patient.birthDate for %s, a day that does not exist', async (birthDate) => {
      const response = await expectRejected('Patient', patient({ birthDate }), 400);
      expect(issueExpressions(response)).toContain('Patient.birthDate');
    });

    it('answers 400 for a dateTime on a day that does not exist, in a choice element', async () => {
      const response = await expectRejected('Observation', observation({ effectiveDateTime: '2023-06-31T10:00:00Z' }), 400);
      expect(issueExpressions(response)).toContain('Observation.effective.ofType(dateTime)');
    });

    it('accepts 29 February of a leap year', async () => {
      const response = await post('Patient', patient({ birthDate: '2024-02-29' }));
      expect(response.status).toBe(201);
    });

    it('answers 400 pointing at Observation.code when that required element is missing', async () => {
      const { code: _code, ...withoutCode } = observation();
      const response = await expectRejected('Observation', withoutCode, 400);
      expect(issueExpressions(response)).toContain('Observation.code');
      expect(response.body.issue[0].code).toBe('required');
    });

    it('answers 400 pointing at the element that has the wrong JSON type', async () => {
      const response = await expectRejected('Patient', patient({ active: 'yes' }), 400);
      expect(issueExpressions(response)).toContain('Patient.active');
    });

    it('stores a property that FHIR does not define as sent (a warning, not an error, so no data is lost)', async () => {
      const response = await fhirRequest(server.app, 'POST', '/fhir/Patient', patient({ favouriteColour: 'blue' }));
      expect(response.status).toBe(201);
      const read = await fhirRequest(server.app, 'GET', `/fhir/Patient/${response.body.id}`);
      expect(read.body.favouriteColour).toBe('blue');
    });

    it('answers 400 pointing at a reference with bad syntax', async () => {
      const response = await expectRejected('Patient', patient({ managingOrganization: { reference: 'not a reference' } }), 400);
      expect(issueExpressions(response)).toContain('Patient.managingOrganization.reference');
    });

    it('answers 400 pointing at Patient.gender for a code outside its required value set', async () => {
      const response = await expectRejected('Patient', patient({ gender: 'robot' }), 400);
      expect(issueExpressions(response)).toContain('Patient.gender');
      expect(issueText(response)).toContain('robot');
    });

    it('answers 400 for an invalid Observation.status code (required binding)', async () => {
      const response = await expectRejected('Observation', observation({ status: 'done' }), 400);
      expect(issueExpressions(response)).toContain('Observation.status');
    });

    it('reports every problem of an invalid resource, each with its own expression', async () => {
      const response = await expectRejected('Patient', patient({ gender: 'robot', birthDate: 'yesterday', active: 1 }), 400);
      expect(issueExpressions(response)).toEqual(expect.arrayContaining(['Patient.gender', 'Patient.birthDate', 'Patient.active']));
      for (const issue of response.body.issue) {
        expect(issue.severity).toBe('error');
        expect(issue.code).toBeTruthy();
      }
    });
  });
});
