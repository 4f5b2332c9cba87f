import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer } from '../support/test-server.js';
import {
  authorizeAs,
  createUser,
  exchangeCode,
  expectOAuthError,
  introspect,
  pkce,
  REDIRECT_URI,
  registerClient,
  registerPublicApp,
  startAuthServer,
  basic,
  type RegisteredClient,
} from './oauth-support.js';

/** The authorization_code grant's refusals (RFC 6749 §4.1.3, RFC 7636 §4.6), each invalid_grant unless said otherwise. */
describe('exchanging an authorization code', () => {
  let server: TestServer;
  let client: RegisteredClient;
  let other: RegisteredClient;

  beforeAll(async () => {
    server = await startAuthServer();
    client = await registerPublicApp(server.app);
    other = await registerPublicApp(server.app, { client_name: 'Other app' });
    await createUser(server, 'doc', 'practitioner', 'Practitioner/doc1');
  });

  afterAll(async () => {
    await server.close();
  });

  async function freshCode(scope = 'openid user/*.rs offline_access') {
    const { verifier, challenge } = pkce();
    const { code } = await authorizeAs(server.app, { clientId: client.client_id, scope, challenge }, 'doc');
    return { code, verifier };
  }

  it('refuses an unknown code', async () => {
    const { verifier } = pkce();
    expectOAuthError(await exchangeCode(server.app, client.client_id, 'made-up', verifier), 400, 'invalid_grant');
  });

  it('refuses a request without code, redirect_uri or code_verifier: invalid_request', async () => {
    const { code, verifier } = await freshCode();
    expectOAuthError(await exchangeCode(server.app, client.client_id, code, verifier, { code_verifier: '' }), 400, 'invalid_request');
    expectOAuthError(await exchangeCode(server.app, client.client_id, code, verifier, { redirect_uri: '' }), 400, 'invalid_request');
    expectOAuthError(await exchangeCode(server.app, client.client_id, '', verifier), 400, 'invalid_request');
  });

  it('refuses a wrong code_verifier, and the code is used up', async () => {
    const { code, verifier } = await freshCode();
    expectOAuthError(await exchangeCode(server.app, client.client_id, code, pkce().verifier), 400, 'invalid_grant');
    expectOAuthError(await exchangeCode(server.app, client.client_id, code, verifier), 400, 'invalid_grant');
  });

  it('refuses a code_verifier that is the challenge itself (plain PKCE)', async () => {
    const { verifier, challenge } = pkce();
    const { code } = await authorizeAs(server.app, { clientId: client.client_id, scope: 'openid', challenge }, 'doc');
    expectOAuthError(await exchangeCode(server.app, client.client_id, code, challenge), 400, 'invalid_grant');
    expect(verifier).not.toBe(challenge);
  });

  it('refuses a redirect_uri other than the authorization request’s', async () => {
    const { code, verifier } = await freshCode();
    expectOAuthError(await exchangeCode(server.app, client.client_id, code, verifier, { redirect_uri: `${REDIRECT_URI}/other` }), 400, 'invalid_grant');
  });

  it('refuses a code issued to another client', async () => {
    const { code, verifier } = await freshCode();
    expectOAuthError(await exchangeCode(server.app, other.client_id, code, verifier), 400, 'invalid_grant');
  });

  it('refuses an unknown client: 401 invalid_client', async () => {
    const { code, verifier } = await freshCode();
    expectOAuthError(await exchangeCode(server.app, 'no-such-client', code, verifier), 401, 'invalid_client');
  });

  it('refuses a confidential client’s bad secret: 401 invalid_client', async () => {
    const confidential = await registerClient(server.app, {
      client_name: 'Confidential',
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid user/*.rs',
    });
    const { verifier, challenge } = pkce();
    const { code } = await authorizeAs(server.app, { clientId: confidential.client_id, scope: 'openid user/*.rs', challenge }, 'doc');
    const bad = await exchangeCode(server.app, confidential.client_id, code, verifier, {}, { authorization: basic(confidential.client_id, 'wrong') });
    expectOAuthError(bad, 401, 'invalid_client');
    expect(bad.headers['www-authenticate']).toMatch(/^Basic/);
    const bare = await exchangeCode(server.app, confidential.client_id, code, verifier);
    expectOAuthError(bare, 401, 'invalid_client');
  });

  it('exchanges a code for a confidential client with client_secret_basic', async () => {
    const confidential = await registerClient(server.app, {
      client_name: 'Confidential',
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid user/*.rs',
    });
    const { verifier, challenge } = pkce();
    const { code } = await authorizeAs(server.app, { clientId: confidential.client_id, scope: 'user/*.rs', challenge }, 'doc');
    const response = await exchangeCode(server.app, confidential.client_id, code, verifier, {}, { authorization: basic(confidential.client_id, confidential.client_secret as string) });
    expect(response.status).toBe(200);
  });

  it('refuses an expired code (codes live at most 60 seconds)', async () => {
    const { code, verifier } = await freshCode();
    const { rows } = await server.db.query(`SELECT extract(epoch FROM expires - now()) AS seconds FROM auth_code WHERE NOT used`);
    expect(rows.every((row) => Number(row.seconds) <= 60)).toBe(true);
    await server.db.query(`UPDATE auth_code SET expires = now() - interval '1 second' WHERE NOT used`);
    expectOAuthError(await exchangeCode(server.app, client.client_id, code, verifier), 400, 'invalid_grant');
  });

  it('refuses a reused code and revokes the tokens issued from it', async () => {
    const { code, verifier } = await freshCode();
    const first = await exchangeCode(server.app, client.client_id, code, verifier);
    expect(first.status).toBe(200);
    expect(first.body.refresh_token).toBeTruthy();
    expect(await introspect(server.app, first.body.access_token)).toMatchObject({ active: true });

    expectOAuthError(await exchangeCode(server.app, client.client_id, code, verifier), 400, 'invalid_grant');

    expect(await introspect(server.app, first.body.access_token)).toEqual({ active: false });
    expect(await introspect(server.app, first.body.refresh_token)).toEqual({ active: false });
    const { rows } = await server.db.query(`SELECT status FROM auth_refresh_token WHERE client_id = $1`, [client.client_id]);
    expect(rows.filter((row) => row.status === 'active')).toHaveLength(0);
    const revoked = await server.db.query('SELECT count(*) FROM auth_revoked_token');
    expect(Number(revoked.rows[0].count)).toBeGreaterThan(0);
  });

  it('keeps codes only as hashes', async () => {
    const { code } = await freshCode();
    const { rows } = await server.db.query('SELECT code_hash FROM auth_code');
    expect(rows.map((row) => row.code_hash)).not.toContain(code);
  });
});
