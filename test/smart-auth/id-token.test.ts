import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer } from '../support/test-server.js';
import { authorizeAs, createUser, exchangeCode, FHIR_BASE, pkce, registerPublicApp, send, startAuthServer, TEST_BASE_URL, type RegisteredClient } from './oauth-support.js';

/** The OpenID Connect id_token (Core §2, SMART scopes-and-launch-context.html#scopes-for-requesting-identity-data). */
describe('id_token', () => {
  let server: TestServer;
  let client: RegisteredClient;
  let userId: string;

  beforeAll(async () => {
    server = await startAuthServer();
    client = await registerPublicApp(server.app);
    userId = (await createUser(server, 'doc', 'practitioner', 'Practitioner/123')).id;
  });

  afterAll(async () => {
    await server.close();
  });

  async function tokenResponse(scope: string, nonce?: string) {
    const { verifier, challenge } = pkce();
    const { code } = await authorizeAs(server.app, { clientId: client.client_id, scope, challenge, nonce }, 'doc');
    const response = await exchangeCode(server.app, client.client_id, code, verifier);
    expect(response.status).toBe(200);
    return response.body;
  }

  it('is absent without the openid scope', async () => {
    expect((await tokenResponse('fhirUser user/*.rs')).id_token).toBeUndefined();
  });

  it('is signed RS256 with a published key and carries iss, sub, aud, exp, iat, nonce and fhirUser as an absolute URL', async () => {
    const body = await tokenResponse('openid fhirUser user/*.rs', 'n-0S6_WzA2Mj');
    const jwks = (await send(server.app, 'GET', '/.well-known/jwks.json')).body;
    expect(decodeProtectedHeader(body.id_token)).toMatchObject({ alg: 'RS256' });
    const { payload } = await jwtVerify(body.id_token, createLocalJWKSet(jwks), {
      issuer: TEST_BASE_URL,
      audience: client.client_id,
      algorithms: ['RS256'],
    });
    expect(payload).toMatchObject({ sub: userId, nonce: 'n-0S6_WzA2Mj', fhirUser: `${FHIR_BASE}/Practitioner/123` });
    expect(payload.exp as number).toBeGreaterThan(Date.now() / 1000);
    expect(payload.iat as number).toBeLessThanOrEqual(Date.now() / 1000 + 1);
  });

  it('carries fhirUser for SMART v1’s profile scope too', async () => {
    const body = await tokenResponse('openid profile user/*.rs');
    const jwks = (await send(server.app, 'GET', '/.well-known/jwks.json')).body;
    const { payload } = await jwtVerify(body.id_token, createLocalJWKSet(jwks), { issuer: TEST_BASE_URL, audience: client.client_id });
    expect(payload.fhirUser).toBe(`${FHIR_BASE}/Practitioner/123`);
  });

  it('leaves fhirUser out when the fhirUser scope was not granted', async () => {
    const body = await tokenResponse('openid user/*.rs');
    const jwks = (await send(server.app, 'GET', '/.well-known/jwks.json')).body;
    const { payload } = await jwtVerify(body.id_token, createLocalJWKSet(jwks), { issuer: TEST_BASE_URL, audience: client.client_id });
    expect(payload.fhirUser).toBeUndefined();
    expect(payload.nonce).toBeUndefined();
  });

  it('the access token verifies with the same key set, for the FHIR base as audience', async () => {
    const body = await tokenResponse('openid fhirUser user/*.rs');
    const jwks = (await send(server.app, 'GET', '/.well-known/jwks.json')).body;
    const { payload } = await jwtVerify(body.access_token, createLocalJWKSet(jwks), { issuer: TEST_BASE_URL, audience: FHIR_BASE });
    expect(payload).toMatchObject({ sub: userId, client_id: client.client_id, fhirUser: 'Practitioner/123', role: 'practitioner' });
  });
});
