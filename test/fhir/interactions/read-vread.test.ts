import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, startTestServer, type TestServer } from '../../support/test-server.js';
import { expectOperationOutcome, issueText, patient } from './support.js';

/** read: GET [type]/[id] (http.html#read) and vread: GET [type]/[id]/_history/[vid] (http.html#vread). */
describe('read and vread', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server.close();
  });

  const request = (method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD', url: string, body?: unknown, headers?: Record<string, string>) =>
    fhirRequest(server.app, method, url, body, headers);

  async function createPatient(extra: Record<string, unknown> = {}) {
    const created = await request('POST', '/fhir/Patient', patient(extra));
    expect(created.status).toBe(201);
    return created.body as { id: string; meta: { versionId: string; lastUpdated: string } };
  }

  describe('read', () => {
    it('answers 200 with the current version, its ETag and Last-Modified', async () => {
      const created = await createPatient();
      const response = await request('GET', `/fhir/Patient/${created.id}`);

      expect(response.status).toBe(200);
      expect(response.body).toEqual(created);
      expect(response.headers.etag).toBe('W/"1"');
      expect(response.headers['last-modified']).toBe(new Date(created.meta.lastUpdated).toUTCString());
      expect(String(response.headers['content-type'])).toMatch(/^application\/fhir\+json/);
    });

    it('answers with the newest version after an update', async () => {
      const created = await createPatient();
      await request('PUT', `/fhir/Patient/${created.id}`, patient({ id: created.id, gender: 'female' }));

      const response = await request('GET', `/fhir/Patient/${created.id}`);
      expect(response.status).toBe(200);
      expect(response.body.gender).toBe('female');
      expect(response.body.meta.versionId).toBe('2');
      expect(response.headers.etag).toBe('W/"2"');
    });

    it('answers 404 with an OperationOutcome for an id that does not exist', async () => {
      const response = await request('GET', '/fhir/Patient/does-not-exist');
      expectOperationOutcome(response, 404);
      expect(response.body.issue[0].code).toBe('not-found');
    });

    it('answers 404 when the id exists under another resource type', async () => {
      const created = await createPatient();
      expectOperationOutcome(await request('GET', `/fhir/Observation/${created.id}`), 404);
    });

    it.each(['a_b', 'x'.repeat(65), 'white%20space', 'semi%3Bcolon'])('answers 400 for the invalid id syntax %s', async (id) => {
      const response = await request('GET', `/fhir/Patient/${id}`);
      expectOperationOutcome(response, 400);
      expect(issueText(response)).toMatch(/id/i);
    });

    it('accepts ids of exactly 64 characters of letters, digits, "-" and "."', async () => {
      const id = `A-1.${'z'.repeat(60)}`;
      await request('PUT', `/fhir/Patient/${id}`, patient({ id }));
      const response = await request('GET', `/fhir/Patient/${id}`);
      expect(response.status).toBe(200);
      expect(response.body.id).toBe(id);
    });

    it('answers 410 Gone with an OperationOutcome when reading a deleted resource', async () => {
      const created = await createPatient();
      await request('DELETE', `/fhir/Patient/${created.id}`);

      const response = await request('GET', `/fhir/Patient/${created.id}`);
      expectOperationOutcome(response, 410);
      expect(response.body.issue[0].code).toBe('deleted');
      expect(response.headers.etag).toBe('W/"2"');
    });

    it('answers 404 for an unknown resource type', async () => {
      expectOperationOutcome(await request('GET', '/fhir/Unicorn/1'), 404);
    });

    it('answers HEAD like GET, with the headers and without a body', async () => {
      const created = await createPatient();
      const response = await request('HEAD', `/fhir/Patient/${created.id}`);
      expect(response.status).toBe(200);
      expect(response.headers.etag).toBe('W/"1"');
      expect(response.text).toBe('');
    });
  });

  describe('conditional read', () => {
    it('answers 304 without a body when If-None-Match names the current version', async () => {
      const created = await createPatient();
      const response = await request('GET', `/fhir/Patient/${created.id}`, undefined, { 'if-none-match': 'W/"1"' });

      expect(response.status).toBe(304);
      expect(response.text).toBe('');
      expect(response.headers.etag).toBe('W/"1"');
    });

    it('answers 200 with the resource when If-None-Match names an older version', async () => {
      const created = await createPatient();
      await request('PUT', `/fhir/Patient/${created.id}`, patient({ id: created.id, active: true }));

      const response = await request('GET', `/fhir/Patient/${created.id}`, undefined, { 'if-none-match': 'W/"1"' });
      expect(response.status).toBe(200);
      expect(response.body.meta.versionId).toBe('2');
    });

    it('answers 304 for If-None-Match: *', async () => {
      const created = await createPatient();
      const response = await request('GET', `/fhir/Patient/${created.id}`, undefined, { 'if-none-match': '*' });
      expect(response.status).toBe(304);
    });

    it('answers 304 when If-Modified-Since is at or after Last-Modified', async () => {
      const created = await createPatient();
      const lastModified = new Date(created.meta.lastUpdated).toUTCString();

      const same = await request('GET', `/fhir/Patient/${created.id}`, undefined, { 'if-modified-since': lastModified });
      expect(same.status).toBe(304);
      expect(same.text).toBe('');

      const later = new Date(Date.parse(created.meta.lastUpdated) + 60_000).toUTCString();
      const after = await request('GET', `/fhir/Patient/${created.id}`, undefined, { 'if-modified-since': later });
      expect(after.status).toBe(304);
    });

    it('answers 200 when the resource changed after If-Modified-Since', async () => {
      const created = await createPatient();
      const earlier = new Date(Date.parse(created.meta.lastUpdated) - 60_000).toUTCString();

      const response = await request('GET', `/fhir/Patient/${created.id}`, undefined, { 'if-modified-since': earlier });
      expect(response.status).toBe(200);
      expect(response.body.id).toBe(created.id);
    });

    it('answers 400 for an If-Modified-Since that is not a date', async () => {
      const created = await createPatient();
      const response = await request('GET', `/fhir/Patient/${created.id}`, undefined, { 'if-modified-since': 'last tuesday' });
      expectOperationOutcome(response, 400);
    });

    it('still answers 410 for a deleted resource, whatever If-None-Match says', async () => {
      const created = await createPatient();
      await request('DELETE', `/fhir/Patient/${created.id}`);
      const response = await request('GET', `/fhir/Patient/${created.id}`, undefined, { 'if-none-match': 'W/"1"' });
      expectOperationOutcome(response, 410);
    });
  });

  describe('_summary and _elements', () => {
    it('_summary=true returns only the summary elements and tags the result SUBSETTED', async () => {
      const created = await createPatient({ photo: [{ contentType: 'image/png', data: 'aGVsbG8=' }], text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Peter</div>' } });
      const response = await request('GET', `/fhir/Patient/${created.id}?_summary=true`);

      expect(response.status).toBe(200);
      expect(response.body.name).toEqual([{ family: 'Chalmers', given: ['Peter'] }]);
      expect(response.body.birthDate).toBe('1974-12-25');
      expect(response.body.photo).toBeUndefined();
      expect(response.body.text).toBeUndefined();
      expect(response.body.meta.tag).toContainEqual(expect.objectContaining({ code: 'SUBSETTED' }));
    });

    it('_elements=name returns id, meta and name only', async () => {
      const created = await createPatient();
      const response = await request('GET', `/fhir/Patient/${created.id}?_elements=name`);

      expect(response.status).toBe(200);
      expect(Object.keys(response.body).sort()).toEqual(['id', 'meta', 'name', 'resourceType']);
      expect(response.body.name).toEqual([{ family: 'Chalmers', given: ['Peter'] }]);
      expect(response.body.meta.tag).toContainEqual(expect.objectContaining({ code: 'SUBSETTED' }));
    });

    it('answers 400 for an unknown _summary mode', async () => {
      const created = await createPatient();
      expectOperationOutcome(await request('GET', `/fhir/Patient/${created.id}?_summary=most`), 400);
    });

    it('the stored resource is not changed by a subsetted read', async () => {
      const created = await createPatient();
      await request('GET', `/fhir/Patient/${created.id}?_elements=name`);
      const full = await request('GET', `/fhir/Patient/${created.id}`);
      expect(full.body).toEqual(created);
    });
  });

  describe('vread', () => {
    it('answers each version as it was, with that version\'s ETag and Last-Modified', async () => {
      const created = await createPatient({ gender: 'male' });
      const second = await request('PUT', `/fhir/Patient/${created.id}`, patient({ id: created.id, gender: 'female' }));
      const third = await request('PUT', `/fhir/Patient/${created.id}`, patient({ id: created.id, gender: 'other' }));

      const expected = [created, second.body, third.body];
      for (const [index, version] of expected.entries()) {
        const response = await request('GET', `/fhir/Patient/${created.id}/_history/${index + 1}`);
        expect(response.status).toBe(200);
        expect(response.body).toEqual(version);
        expect(response.body.meta.versionId).toBe(String(index + 1));
        expect(response.headers.etag).toBe(`W/"${index + 1}"`);
        expect(response.headers['last-modified']).toBe(new Date(version.meta.lastUpdated).toUTCString());
      }
      expect(expected.map((v) => v.gender)).toEqual(['male', 'female', 'other']);
    });

    it('answers 404 for a version that does not exist', async () => {
      const created = await createPatient();
      const response = await request('GET', `/fhir/Patient/${created.id}/_history/2`);
      expectOperationOutcome(response, 404);
      expect(issueText(response)).toContain('_history/2');
    });

    it.each(['0', 'abc', '-1'])('answers 404 for the version id %s, which no version can have', async (vid) => {
      const created = await createPatient();
      expectOperationOutcome(await request('GET', `/fhir/Patient/${created.id}/_history/${vid}`), 404);
    });

    it('answers 404 for a version of a resource that never existed', async () => {
      expectOperationOutcome(await request('GET', '/fhir/Patient/never-was/_history/1'), 404);
    });

    it('answers 410 for the version that is the deletion, and the older versions stay readable', async () => {
      const created = await createPatient();
      await request('DELETE', `/fhir/Patient/${created.id}`);

      expectOperationOutcome(await request('GET', `/fhir/Patient/${created.id}/_history/2`), 410);
      const first = await request('GET', `/fhir/Patient/${created.id}/_history/1`);
      expect(first.status).toBe(200);
      expect(first.body).toEqual(created);
    });

    it('answers 400 for an invalid id in a vread', async () => {
      expectOperationOutcome(await request('GET', '/fhir/Patient/a_b/_history/1'), 400);
    });

    it('applies _elements to a vread too', async () => {
      const created = await createPatient();
      const response = await request('GET', `/fhir/Patient/${created.id}/_history/1?_elements=gender`);
      expect(response.status).toBe(200);
      expect(response.body.gender).toBe('male');
      expect(response.body.name).toBeUndefined();
    });
  });
});
