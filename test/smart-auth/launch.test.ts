import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer } from '../support/test-server.js';
import { adminToken, authorizeAs, createUser, exchangeCode, expectOAuthError, pkce, registerPublicApp, send, startAuthServer, type RegisteredClient } from './oauth-support.js';

/** POST /oauth/launch: the EHR's side of an EHR launch (CONTRACT.md). */
describe('POST /oauth/launch', () => {
  let server: TestServer;
  let client: RegisteredClient;
  let practitionerToken: string;
  let patientToken: string;

  async function userToken(username: string, scope: string): Promise<string> {
    const { verifier, challenge } = pkce();
    const { code } = await authorizeAs(server.app, { clientId: client.client_id, scope, challenge }, username);
    return (await exchangeCode(server.app, client.client_id, code, verifier)).body.access_token;
  }

  beforeAll(async () => {
    server = await startAuthServer();
    client = await registerPublicApp(server.app);
    await createUser(server, 'doc', 'practitioner', 'Practitioner/doc1');
    await createUser(server, 'pat', 'patient', 'Patient/p9');
    practitionerToken = await userToken('doc', 'user/*.rs');
    patientToken = await userToken('pat', 'patient/*.rs');
  });

  afterAll(async () => {
    await server.close();
  });

  const launch = (body: unknown, token: string | null) =>
    send(server.app, 'POST', '/oauth/launch', JSON.stringify(body), { 'content-type': 'application/json', authorization: token ? `Bearer ${token}` : '' });
  const launches = async () => Number((await server.db.query('SELECT count(*) FROM auth_launch')).rows[0].count);

  it('refuses a request without a token: 401 invalid_token', async () => {
    const response = await launch({ patient: 'Patient/1' }, null);
    expectOAuthError(response, 401, 'invalid_token');
    expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('refuses a patient’s token: 403, nothing created', async () => {
    const before = await launches();
    expectOAuthError(await launch({ patient: 'Patient/p9' }, patientToken), 403, 'access_denied');
    expect(await launches()).toBe(before);
  });

  it('refuses a backend service without the admin scope: 403', async () => {
    expectOAuthError(await launch({ patient: 'Patient/1' }, await adminToken(server.app, 'system/*.rs')), 403, 'access_denied');
  });

  it('refuses a body without a patient reference, or with malformed references', async () => {
    for (const body of [{}, { patient: '1' }, { patient: 'Observation/1' }, { patient: 'Patient/1', encounter: 'Patient/2' }, 'x']) {
      expectOAuthError(await launch(body, practitionerToken), 400, 'invalid_request');
    }
  });

  it('creates a launch for a practitioner: 201 with an opaque value kept only as a hash, valid five minutes', async () => {
    const response = await launch({ patient: 'Patient/1', encounter: 'Encounter/2' }, practitionerToken);
    expect(response.status).toBe(201);
    expect(typeof response.body.launch).toBe('string');
    expect(response.body.launch).not.toContain('Patient');
    const { rows } = await server.db.query(
      `SELECT id_hash, context, extract(epoch FROM expires - now()) AS seconds FROM auth_launch ORDER BY expires DESC LIMIT 1`,
    );
    expect(rows[0].id_hash).not.toBe(response.body.launch);
    expect(rows[0].context).toEqual({ patient: '1', encounter: '2' });
    expect(Number(rows[0].seconds)).toBeLessThanOrEqual(300);
    expect(Number(rows[0].seconds)).toBeGreaterThan(290);
  });

  it('creates a launch for an administrator’s token', async () => {
    expect((await launch({ patient: 'Patient/1' }, await adminToken(server.app))).status).toBe(201);
  });
});
