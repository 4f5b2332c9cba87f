import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, startTestServer, type TestServer } from '../../support/test-server.js';
import { expectOperationOutcome, patient, rowCounts, storedRows } from './support.js';

/**
 * delete: DELETE [type]/[id] (http.html#delete). The spec allows 200 with a body or 204 without;
 * we chose 200 with an informational OperationOutcome, and 204 when the client sends
 * `Prefer: return=minimal`. Deleting what does not exist (any more) is a success too.
 */
describe('delete', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server.close();
  });

  const del = (url: string, headers?: Record<string, string>) => fhirRequest(server.app, 'DELETE', url, undefined, headers);

  async function createPatient(): Promise<string> {
    const created = await fhirRequest(server.app, 'POST', '/fhir/Patient', patient());
    expect(created.status).toBe(201);
    return created.body.id;
  }

  it('answers 200 with an informational OperationOutcome and the ETag of the deletion', async () => {
    const id = await createPatient();
    const response = await del(`/fhir/Patient/${id}`);

    expect(response.status).toBe(200);
    expect(response.body.resourceType).toBe('OperationOutcome');
    expect(response.body.issue[0]).toMatchObject({ severity: 'information', code: 'informational' });
    expect(response.body.issue[0].diagnostics).toContain(`Patient/${id}`);
    expect(response.headers.etag).toBe('W/"2"');
  });

  it('answers 204 without a body when the client prefers return=minimal', async () => {
    const id = await createPatient();
    const response = await del(`/fhir/Patient/${id}`, { prefer: 'return=minimal' });

    expect(response.status).toBe(204);
    expect(response.text).toBe('');
    expect((await storedRows(server, 'Patient', id)).current.deleted).toBe(true);
  });

  it('keeps the resource\'s versions and records the deletion as a new version without content', async () => {
    const id = await createPatient();
    await del(`/fhir/Patient/${id}`);

    const stored = await storedRows(server, 'Patient', id);
    expect(stored.current).toMatchObject({ version_id: 2, deleted: true, content: null });
    expect(stored.history.map((h) => [h.version_id, h.method, h.content === null])).toEqual([
      [1, 'POST', false],
      [2, 'DELETE', true],
    ]);
  });

  it('makes a later read answer 410 Gone', async () => {
    const id = await createPatient();
    await del(`/fhir/Patient/${id}`);
    expectOperationOutcome(await fhirRequest(server.app, 'GET', `/fhir/Patient/${id}`), 410);
  });

  it('answers 200 for an id that never existed, and writes nothing', async () => {
    const before = await rowCounts(server);
    const response = await del('/fhir/Patient/never-existed');

    expect(response.status).toBe(200);
    expect(response.body.resourceType).toBe('OperationOutcome');
    expect(response.body.issue[0].severity).toBe('information');
    expect(response.body.issue[0].diagnostics).toBe('Patient/never-existed does not exist; nothing was deleted');
    expect(await rowCounts(server)).toEqual(before);
  });

  it('answers 200 when deleting an already deleted resource, and adds no version', async () => {
    const id = await createPatient();
    await del(`/fhir/Patient/${id}`);
    const before = await rowCounts(server);

    const response = await del(`/fhir/Patient/${id}`);
    expect(response.status).toBe(200);
    expect(response.body.issue[0].diagnostics).toBe(`Patient/${id} was already deleted; nothing changed`);
    expect(await rowCounts(server)).toEqual(before);
    expect((await storedRows(server, 'Patient', id)).history).toHaveLength(2);
  });

  it('answers 400 for an invalid id and 404 for an unknown type', async () => {
    expectOperationOutcome(await del('/fhir/Patient/bad_id'), 400);
    expectOperationOutcome(await del('/fhir/Spaceship/1'), 404);
  });

  it('leaves resources of other types with the same id alone', async () => {
    await fhirRequest(server.app, 'PUT', '/fhir/Patient/shared-id', patient({ id: 'shared-id' }));
    await fhirRequest(server.app, 'PUT', '/fhir/Organization/shared-id', { resourceType: 'Organization', id: 'shared-id', name: 'Acme' });

    await del('/fhir/Patient/shared-id');
    expect((await fhirRequest(server.app, 'GET', '/fhir/Organization/shared-id')).status).toBe(200);
  });

  describe('version-aware delete (If-Match)', () => {
    it('deletes when If-Match names the current version', async () => {
      const id = await createPatient();
      const response = await del(`/fhir/Patient/${id}`, { 'if-match': 'W/"1"' });

      expect(response.status).toBe(200);
      expect((await storedRows(server, 'Patient', id)).current.deleted).toBe(true);
    });

    it('answers 412 and deletes nothing when If-Match names another version', async () => {
      const id = await createPatient();
      await fhirRequest(server.app, 'PUT', `/fhir/Patient/${id}`, patient({ id, active: true }));
      const before = await rowCounts(server);

      expectOperationOutcome(await del(`/fhir/Patient/${id}`, { 'if-match': 'W/"1"' }), 412);
      expect(await rowCounts(server)).toEqual(before);
      expect((await storedRows(server, 'Patient', id)).current.deleted).toBe(false);
    });

    it('answers 400 for a malformed If-Match', async () => {
      const id = await createPatient();
      expectOperationOutcome(await del(`/fhir/Patient/${id}`, { 'if-match': 'latest' }), 400);
      expect((await storedRows(server, 'Patient', id)).current.deleted).toBe(false);
    });
  });
});
