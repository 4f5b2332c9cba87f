import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer } from '../support/test-server.js';
import { ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET, basic, expectOAuthError, introspect, postForm, startAuthServer } from './oauth-support.js';

/** The bootstrap client of ADMIN_CLIENT_ID / ADMIN_CLIENT_SECRET (CONTRACT.md) and the client_credentials grant. */
describe('the admin client and client_credentials', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startAuthServer();
  });

  afterAll(async () => {
    await server.close();
  });

  const token = (params: Record<string, string>, headers: Record<string, string> = {}) =>
    postForm(server.app, '/oauth/token', { grant_type: 'client_credentials', ...params }, headers);

  it('refuses a wrong secret: 401 invalid_client with WWW-Authenticate', async () => {
    const response = await token({ scope: 'system/*.* admin' }, { authorization: basic(ADMIN_CLIENT_ID, 'wrong') });
    expectOAuthError(response, 401, 'invalid_client');
    expect(response.headers['www-authenticate']).toMatch(/^Basic/);
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('refuses a wrong secret sent with client_secret_post', async () => {
    const response = await token({ scope: 'system/*.* admin', client_id: ADMIN_CLIENT_ID, client_secret: 'wrong' });
    expectOAuthError(response, 401, 'invalid_client');
  });

  it('refuses an unknown client', async () => {
    expectOAuthError(await token({ scope: 'system/*.rs' }, { authorization: basic('nobody', 'x') }), 401, 'invalid_client');
  });

  it('refuses a client id holding a NUL character (%00) as an invalid request, not a server error', async () => {
    const response = await token({ scope: 'system/*.rs', client_id: 'a\u0000b', client_secret: 'x' });
    expectOAuthError(response, 400, 'invalid_request');
    expect(response.body.error_description).toMatch(/NUL character \(%00\)/);
  });

  it('refuses the admin client without its secret (as if it were public)', async () => {
    expectOAuthError(await token({ scope: 'system/*.rs', client_id: ADMIN_CLIENT_ID }), 401, 'invalid_client');
  });

  it('refuses two authentication methods at once', async () => {
    const response = await token(
      { scope: 'system/*.rs', client_id: ADMIN_CLIENT_ID, client_secret: ADMIN_CLIENT_SECRET },
      { authorization: basic(ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET) },
    );
    expectOAuthError(response, 400, 'invalid_request');
  });

  it('refuses user/ and patient/ scopes to a backend service: invalid_scope', async () => {
    for (const scope of ['user/*.rs', 'patient/Observation.rs', 'openid', 'system/*.rs launch']) {
      expectOAuthError(await token({ scope }, { authorization: basic(ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET) }), 400, 'invalid_scope');
    }
  });

  it('refuses a query-narrowed scope whose query is no search of its type: invalid_scope naming the parameter', async () => {
    for (const [scope, mention] of [
      ['system/Patient.rs?category=x', 'category'],
      ['system/Observation.rs?date=yesterday', 'date'],
    ]) {
      const response = await token({ scope }, { authorization: basic(ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET) });
      expectOAuthError(response, 400, 'invalid_scope');
      expect(response.body.error_description).toContain(scope);
      expect(response.body.error_description).toContain(mention);
    }
  });

  it('refuses a scope that does not parse, and a missing scope', async () => {
    expectOAuthError(await token({ scope: 'system/Nonsense.rs' }, { authorization: basic(ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET) }), 400, 'invalid_scope');
    expectOAuthError(await token({}, { authorization: basic(ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET) }), 400, 'invalid_scope');
  });

  it('refuses an unknown grant type, and a request without one', async () => {
    expectOAuthError(await token({ grant_type: 'password' }, { authorization: basic(ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET) }), 400, 'unsupported_grant_type');
    const response = await postForm(server.app, '/oauth/token', {}, { authorization: basic(ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET) });
    expectOAuthError(response, 400, 'invalid_request');
  });

  it('refuses a JSON body: the token endpoint takes a form', async () => {
    const response = await server.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/json', authorization: basic(ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET) },
      payload: JSON.stringify({ grant_type: 'client_credentials', scope: 'system/*.rs' }),
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toBe('invalid_request');
  });

  it('refuses a repeated parameter (RFC 6749 §3.1)', async () => {
    const response = await server.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET) },
      payload: 'grant_type=client_credentials&scope=system%2F*.rs&scope=admin',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toBe('invalid_request');
  });

  it('grants system/*.* admin (v1 spelling) with client_secret_basic', async () => {
    const response = await token({ scope: 'system/*.* admin' }, { authorization: basic(ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET) });
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers.pragma).toBe('no-cache');
    expect(response.headers['access-control-allow-origin']).toBe('*');
    expect(response.body).toMatchObject({ token_type: 'Bearer', scope: 'system/*.* admin', expires_in: 3600 });
    expect(response.body.refresh_token).toBeUndefined();
    expect(response.body.id_token).toBeUndefined();
    expect(await introspect(server.app, response.body.access_token)).toMatchObject({ active: true, client_id: ADMIN_CLIENT_ID, sub: ADMIN_CLIENT_ID });
  });

  it('grants system/*.cruds admin (v2 spelling) with client_secret_post', async () => {
    const response = await token({ scope: 'system/*.cruds admin', client_id: ADMIN_CLIENT_ID, client_secret: ADMIN_CLIENT_SECRET });
    expect(response.status).toBe(200);
    expect(response.body.scope).toBe('system/*.cruds admin');
  });

  it('grants narrower system scopes, query-narrowed ones included', async () => {
    const response = await token(
      { scope: 'system/Patient.rs system/Observation.rs?category=laboratory system/Encounter.read' },
      { authorization: basic(ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET) },
    );
    expect(response.status).toBe(200);
    expect(response.body.scope).toBe('system/Patient.rs system/Observation.rs?category=laboratory system/Encounter.read');
  });

  it('accepts a Basic header whose secret is not form-encoded', async () => {
    const raw = `Basic ${Buffer.from(`${ADMIN_CLIENT_ID}:${ADMIN_CLIENT_SECRET}`).toString('base64')}`;
    expect((await token({ scope: 'system/*.rs' }, { authorization: raw })).status).toBe(200);
  });

  it('keeps only a hash of the secret, and the registration CONTRACT.md describes', async () => {
    const { rows } = await server.db.query('SELECT * FROM auth_client WHERE client_id = $1', [ADMIN_CLIENT_ID]);
    expect(rows).toHaveLength(1);
    expect(rows[0].secret_hash).not.toContain(ADMIN_CLIENT_SECRET);
    expect(rows[0].grant_types).toEqual(['client_credentials']);
    expect(rows[0].scope.split(' ')).toEqual(expect.arrayContaining(['system/*.*', 'system/*.cruds', 'admin']));
  });
});
