import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, type TestServer } from '../support/test-server.js';
import { authorizeAs, createUser, exchangeCode, pkce, putPatient, registerPublicApp, startAuthServer, type RegisteredClient } from './oauth-support.js';

/**
 * `openid fhirUser` is "permission to retrieve information about the current logged-in user"
 * (SMART scopes-and-launch-context.html, Quick Start): the app reads the resource the id_token's
 * fhirUser names, whatever resource scopes it holds, and that resource only.
 */
describe('the signed-in user’s own FHIR resource', () => {
  let server: TestServer;
  let client: RegisteredClient;

  beforeAll(async () => {
    server = await startAuthServer();
    client = await registerPublicApp(server.app);
    await putPatient(server.app, 'p1', 'Smith', 'Ann', '1980-01-01');
    for (const id of ['doc1', 'doc2']) {
      const response = await fhirRequest(server.app, 'PUT', `/fhir/Practitioner/${id}`, { resourceType: 'Practitioner', id, name: [{ family: id }] });
      expect(response.status).toBe(201);
    }
    await createUser(server, 'doc', 'practitioner', 'Practitioner/doc1');
    await createUser(server, 'ann', 'patient', 'Patient/p1');
  });

  afterAll(async () => {
    await server.close();
  });

  async function accessToken(scope: string, username = 'doc'): Promise<string> {
    const { verifier, challenge } = pkce();
    const { code } = await authorizeAs(server.app, { clientId: client.client_id, scope, challenge }, username, 'p1');
    const response = await exchangeCode(server.app, client.client_id, code, verifier);
    expect(response.status).toBe(200);
    expect(response.body.scope).toBe(scope);
    return response.body.access_token;
  }

  const get = (token: string, url: string) => fhirRequest(server.app, 'GET', url, undefined, { authorization: `Bearer ${token}` });

  it('lets a practitioner holding only patient/ scopes read their own Practitioner, its history and versions', async () => {
    const token = await accessToken('openid fhirUser launch/patient patient/Observation.rs');
    const read = await get(token, '/fhir/Practitioner/doc1');
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ resourceType: 'Practitioner', id: 'doc1' });
    expect((await get(token, '/fhir/Practitioner/doc1/_history/1')).status).toBe(200);
    const history = await get(token, '/fhir/Practitioner/doc1/_history');
    expect(history.status).toBe(200);
    expect(history.body.entry.map((entry: { resource: { id: string } }) => entry.resource.id)).toEqual(['doc1']);
  });

  it('does the same for SMART v1’s openid profile', async () => {
    const token = await accessToken('openid profile launch/patient patient/Observation.read');
    expect((await get(token, '/fhir/Practitioner/doc1')).status).toBe(200);
  });

  it('lets a patient read their own Patient without a Patient scope', async () => {
    const token = await accessToken('openid fhirUser launch/patient patient/Observation.rs', 'ann');
    const read = await get(token, '/fhir/Patient/p1');
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ resourceType: 'Patient', id: 'p1' });
  });

  it('reaches no other resource of that type, and neither search nor writes', async () => {
    const token = await accessToken('openid fhirUser launch/patient patient/Observation.rs');
    expect((await get(token, '/fhir/Practitioner/doc2')).status).toBe(404);
    expect((await get(token, '/fhir/Practitioner?_id=doc1')).status).toBe(403);
    const update = await fhirRequest(server.app, 'PUT', '/fhir/Practitioner/doc1', { resourceType: 'Practitioner', id: 'doc1', name: [{ family: 'Changed' }] }, {
      authorization: `Bearer ${token}`,
    });
    expect(update.status).toBe(403);
    const { rows } = await server.db.query(`SELECT content->'name'->0->>'family' AS family FROM resource WHERE resource_type = 'Practitioner' AND id = 'doc1'`);
    expect(rows).toEqual([{ family: 'doc1' }]);
  });

  it('is not granted without fhirUser, nor by fhirUser without openid', async () => {
    for (const scope of ['openid launch/patient patient/Observation.rs', 'fhirUser launch/patient patient/Observation.rs']) {
      const token = await accessToken(scope);
      expect((await get(token, '/fhir/Practitioner/doc1')).status, scope).toBe(403);
    }
  });
});
