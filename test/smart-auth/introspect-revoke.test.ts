import { decodeJwt, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer } from '../support/test-server.js';
import {
  ADMIN_CLIENT_ID,
  ADMIN_CLIENT_SECRET,
  adminToken,
  authorizeAs,
  basic,
  createUser,
  exchangeCode,
  expectOAuthError,
  FHIR_BASE,
  introspect,
  pkce,
  postForm,
  putPatient,
  registerPublicApp,
  startAuthServer,
  TEST_BASE_URL,
  type RegisteredClient,
} from './oauth-support.js';

/** Introspection (RFC 7662, SMART token-introspection.html) and revocation (RFC 7009). */
describe('introspection and revocation', () => {
  let server: TestServer;
  let client: RegisteredClient;
  let other: RegisteredClient;

  beforeAll(async () => {
    server = await startAuthServer();
    client = await registerPublicApp(server.app);
    other = await registerPublicApp(server.app, { client_name: 'Other' });
    await putPatient(server.app, 'p1', 'Smith', 'Ann', '1980-01-01');
    await createUser(server, 'doc', 'practitioner', 'Practitioner/doc1');
  });

  afterAll(async () => {
    await server.close();
  });

  async function userTokens() {
    const { verifier, challenge } = pkce();
    const { code } = await authorizeAs(server.app, { clientId: client.client_id, scope: 'openid fhirUser launch/patient patient/*.rs offline_access', challenge }, 'doc', 'p1');
    const response = await exchangeCode(server.app, client.client_id, code, verifier);
    expect(response.status).toBe(200);
    return response.body;
  }

  describe('POST /oauth/introspect', () => {
    it('refuses a caller without credentials, a public client, a bad secret and a bad bearer token', async () => {
      const { access_token } = await userTokens();
      expectOAuthError(await postForm(server.app, '/oauth/introspect', { token: access_token }), 401, 'invalid_client');
      expectOAuthError(await postForm(server.app, '/oauth/introspect', { token: access_token, client_id: client.client_id }), 401, 'invalid_client');
      expectOAuthError(await postForm(server.app, '/oauth/introspect', { token: access_token }, { authorization: basic(ADMIN_CLIENT_ID, 'wrong') }), 401, 'invalid_client');
      expectOAuthError(await postForm(server.app, '/oauth/introspect', { token: access_token }, { authorization: 'Bearer forged' }), 401, 'invalid_token');
    });

    it('refuses a request without a token parameter', async () => {
      expectOAuthError(await postForm(server.app, '/oauth/introspect', {}, { authorization: basic(ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET) }), 400, 'invalid_request');
    });

    it('answers only active: false for anything not active', async () => {
      expect(await introspect(server.app, 'garbage')).toEqual({ active: false });
      const { privateKey } = await generateKeyPair('RS256');
      const foreign = await new SignJWT({ scope: 'system/*.cruds', client_id: 'x' })
        .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt' })
        .setIssuer(TEST_BASE_URL)
        .setAudience(FHIR_BASE)
        .setExpirationTime('1h')
        .setJti('j')
        .sign(privateKey);
      expect(await introspect(server.app, foreign)).toEqual({ active: false });
    });

    it('describes an active access token with its launch context', async () => {
      const { access_token } = await userTokens();
      const body = await introspect(server.app, access_token);
      expect(body).toMatchObject({
        active: true,
        token_type: 'Bearer',
        scope: 'openid fhirUser launch/patient patient/*.rs offline_access',
        client_id: client.client_id,
        iss: TEST_BASE_URL,
        aud: FHIR_BASE,
        patient: 'p1',
      });
      expect(typeof body.sub).toBe('string');
      expect(body.exp as number).toBeGreaterThan(Date.now() / 1000);
      expect(body.iat as number).toBeLessThanOrEqual(Date.now() / 1000 + 1);
    });

    it('reports iss, sub and fhirUser exactly as the id_token carries them (SMART token-introspection.html)', async () => {
      const { access_token, id_token } = await userTokens();
      const idToken = decodeJwt(id_token);
      const body = await introspect(server.app, access_token);
      expect(idToken.fhirUser).toBe(`${FHIR_BASE}/Practitioner/doc1`);
      expect({ iss: body.iss, sub: body.sub, fhirUser: body.fhirUser }).toEqual({ iss: idToken.iss, sub: idToken.sub, fhirUser: idToken.fhirUser });
    });

    it('leaves fhirUser out when the token was granted no fhirUser scope', async () => {
      const { verifier, challenge } = pkce();
      const { code } = await authorizeAs(server.app, { clientId: client.client_id, scope: 'openid launch/patient patient/*.rs', challenge }, 'doc', 'p1');
      const { body: tokens } = await exchangeCode(server.app, client.client_id, code, verifier);
      const body = await introspect(server.app, tokens.access_token);
      expect(body).toMatchObject({ active: true, scope: 'openid launch/patient patient/*.rs', patient: 'p1' });
      expect(body).not.toHaveProperty('fhirUser');
    });

    it('describes an active refresh token', async () => {
      const { refresh_token } = await userTokens();
      expect(await introspect(server.app, refresh_token)).toMatchObject({
        active: true,
        token_type: 'refresh_token',
        client_id: client.client_id,
        scope: 'openid fhirUser launch/patient patient/*.rs offline_access',
        patient: 'p1',
      });
    });

    it('accepts a bearer access token as the caller’s authorization', async () => {
      const { access_token } = await userTokens();
      const response = await postForm(server.app, '/oauth/introspect', { token: access_token }, { authorization: `Bearer ${await adminToken(server.app, 'system/*.rs')}` });
      expect(response.status).toBe(200);
      expect(response.headers['access-control-allow-origin']).toBe('*');
      expect(response.body.active).toBe(true);
    });
  });

  describe('POST /oauth/revoke', () => {
    const revoke = (token: string, clientId = client.client_id, headers: Record<string, string> = {}) =>
      postForm(server.app, '/oauth/revoke', { token, client_id: clientId }, headers);

    it('refuses an unknown client and a bad secret', async () => {
      const { refresh_token } = await userTokens();
      expectOAuthError(await revoke(refresh_token, 'no-such-client'), 401, 'invalid_client');
      expectOAuthError(await postForm(server.app, '/oauth/revoke', { token: refresh_token }, { authorization: basic(ADMIN_CLIENT_ID, 'wrong') }), 401, 'invalid_client');
      expect(await introspect(server.app, refresh_token)).toMatchObject({ active: true });
    });

    it('refuses another client’s token, which stays active', async () => {
      const { access_token, refresh_token } = await userTokens();
      expectOAuthError(await revoke(refresh_token, other.client_id), 400, 'invalid_grant');
      expectOAuthError(await revoke(access_token, other.client_id), 400, 'invalid_grant');
      expect(await introspect(server.app, refresh_token)).toMatchObject({ active: true });
      expect(await introspect(server.app, access_token)).toMatchObject({ active: true });
    });

    it('answers 200 for an unknown token', async () => {
      const response = await revoke('never-issued');
      expect(response.status).toBe(200);
      expect(response.text).toBe('');
    });

    it('revokes a refresh token with its family and the access tokens issued with it', async () => {
      const { access_token, refresh_token } = await userTokens();
      const response = await revoke(refresh_token);
      expect(response.status).toBe(200);
      expect(response.headers['access-control-allow-origin']).toBe('*');
      expect(await introspect(server.app, refresh_token)).toEqual({ active: false });
      expect(await introspect(server.app, access_token)).toEqual({ active: false });
      const refreshed = await postForm(server.app, '/oauth/token', { grant_type: 'refresh_token', refresh_token, client_id: client.client_id });
      expectOAuthError(refreshed, 400, 'invalid_grant');
    });

    it('revokes an access token, recording its jti; the refresh token lives on', async () => {
      const { access_token, refresh_token } = await userTokens();
      expect((await revoke(access_token)).status).toBe(200);
      expect(await introspect(server.app, access_token)).toEqual({ active: false });
      expect(await introspect(server.app, refresh_token)).toMatchObject({ active: true });
      const { rows } = await server.db.query('SELECT count(*) FROM auth_revoked_token');
      expect(Number(rows[0].count)).toBeGreaterThan(0);
      expect((await revoke(access_token)).status).toBe(200);
    });

    it('lets a confidential client revoke its own token', async () => {
      const token = await adminToken(server.app, 'system/*.rs');
      expect((await postForm(server.app, '/oauth/revoke', { token }, { authorization: basic(ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET) })).status).toBe(200);
      expect(await introspect(server.app, token)).toEqual({ active: false });
    });
  });
});
