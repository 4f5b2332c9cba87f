import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer } from '../support/test-server.js';
import { adminToken, basic, send, createUser, exchangeCode, authorizeAs, expectOAuthError, pkce, postForm, REDIRECT_URI, registerPublicApp, startAuthServer } from './oauth-support.js';

/** Dynamic client registration (RFC 7591), for administrators only. */
describe('POST /oauth/register', () => {
  let server: TestServer;
  let admin: string;

  beforeAll(async () => {
    server = await startAuthServer();
    admin = await adminToken(server.app);
  });

  afterAll(async () => {
    await server.close();
  });

  const register = (metadata: unknown, token: string | null = admin) =>
    send(server.app, 'POST', '/oauth/register', JSON.stringify(metadata), {
      'content-type': 'application/json',
      authorization: token ? `Bearer ${token}` : '',
    });
  const clientCount = async () => Number((await server.db.query('SELECT count(*) FROM auth_client')).rows[0].count);
  const app = { client_name: 'Chart', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none', scope: 'openid patient/*.rs' };

  it('refuses a request without a token: 401 invalid_token with WWW-Authenticate, nothing registered', async () => {
    const before = await clientCount();
    const response = await register(app, null);
    expectOAuthError(response, 401, 'invalid_token');
    expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(await clientCount()).toBe(before);
  });

  it('refuses a token that is not valid', async () => {
    expectOAuthError(await register(app, 'not-a-token'), 401, 'invalid_token');
  });

  it('refuses a token without the admin scope: 403 insufficient_scope', async () => {
    const before = await clientCount();
    const response = await register(app, await adminToken(server.app, 'system/*.rs'));
    expectOAuthError(response, 403, 'insufficient_scope');
    expect(await clientCount()).toBe(before);
  });

  it('refuses a practitioner user’s token (no admin scope can be granted to one)', async () => {
    await createUser(server, 'reg-doc', 'practitioner', 'Practitioner/reg');
    const client = await registerPublicApp(server.app, { scope: 'openid fhirUser user/*.rs admin' });
    const { verifier, challenge } = pkce();
    const { code } = await authorizeAs(server.app, { clientId: client.client_id, scope: 'openid user/*.rs admin', challenge }, 'reg-doc');
    const tokens = await exchangeCode(server.app, client.client_id, code, verifier);
    expect(tokens.body.scope.split(' ')).not.toContain('admin');
    expectOAuthError(await register(app, tokens.body.access_token), 403, 'insufficient_scope');
  });

  it('refuses metadata that is not an object', async () => {
    expectOAuthError(await register(['x']), 400, 'invalid_client_metadata');
  });

  it('refuses redirect URIs that are not https (except on localhost), have a fragment, or are missing', async () => {
    for (const redirect_uris of [['http://app.example.org/cb'], ['https://app.example.org/cb#frag'], ['not a url'], []]) {
      expectOAuthError(await register({ ...app, redirect_uris }), 400, 'invalid_redirect_uri');
    }
    const { redirect_uris: _omitted, ...withoutRedirects } = app;
    expectOAuthError(await register(withoutRedirects), 400, 'invalid_redirect_uri');
  });

  it('refuses unknown auth methods, grant types, response types and scopes', async () => {
    expectOAuthError(await register({ ...app, token_endpoint_auth_method: 'tls_client_auth' }), 400, 'invalid_client_metadata');
    expectOAuthError(await register({ ...app, grant_types: ['password'] }), 400, 'invalid_client_metadata');
    expectOAuthError(await register({ ...app, grant_types: 'authorization_code' }), 400, 'invalid_client_metadata');
    expectOAuthError(await register({ ...app, response_types: ['token'] }), 400, 'invalid_client_metadata');
    expectOAuthError(await register({ ...app, scope: 'patient/*.rs superpowers' }), 400, 'invalid_client_metadata');
    expectOAuthError(await register({ ...app, client_name: 42 }), 400, 'invalid_client_metadata');
  });

  it('refuses client_credentials for a public client', async () => {
    expectOAuthError(await register({ ...app, grant_types: ['client_credentials'] }), 400, 'invalid_client_metadata');
  });

  it('refuses private_key_jwt without keys, with both jwks and jwks_uri, with a private key, or with an http jwks_uri only when private callbacks are off', async () => {
    const service = { client_name: 'Service', grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', scope: 'system/*.rs' };
    const publicKey = { kty: 'EC', crv: 'P-384', kid: 'k1', x: 'x', y: 'y' };
    expectOAuthError(await register(service), 400, 'invalid_client_metadata');
    expectOAuthError(await register({ ...service, jwks: { keys: [publicKey] }, jwks_uri: 'https://svc.example.org/jwks' }), 400, 'invalid_client_metadata');
    expectOAuthError(await register({ ...service, jwks: { keys: [{ ...publicKey, d: 'secret' }] } }), 400, 'invalid_client_metadata');
    expectOAuthError(await register({ ...service, jwks: { keys: [{ ...publicKey, kid: undefined }] } }), 400, 'invalid_client_metadata');
    expectOAuthError(await register({ ...service, jwks: { keys: [] } }), 400, 'invalid_client_metadata');
    expectOAuthError(await register({ ...service, jwks_uri: 'ftp://svc.example.org/jwks' }), 400, 'invalid_client_metadata');
  });

  it('registers a public app: 201, a client_id, no secret, the metadata echoed', async () => {
    const response = await register(app);
    expect(response.status).toBe(201);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.body).toMatchObject({
      client_name: 'Chart',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      scope: 'openid patient/*.rs',
    });
    expect(typeof response.body.client_id).toBe('string');
    expect(response.body.client_secret).toBeUndefined();
    expect(Math.abs(response.body.client_id_issued_at - Date.now() / 1000)).toBeLessThan(60);
  });

  it('registers a confidential client with a secret it can then use, keeping only its hash', async () => {
    const response = await register({
      client_name: 'Billing',
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_post',
      scope: 'system/Claim.cruds',
    });
    expect(response.status).toBe(201);
    const { client_id, client_secret } = response.body;
    expect(typeof client_secret).toBe('string');
    expect(response.body.client_secret_expires_at).toBe(0);
    const { rows } = await server.db.query('SELECT secret_hash FROM auth_client WHERE client_id = $1', [client_id]);
    expect(rows[0].secret_hash).not.toBe(client_secret);

    const granted = await postForm(server.app, '/oauth/token', { grant_type: 'client_credentials', scope: 'system/Claim.rs' }, { authorization: basic(client_id, client_secret) });
    expect(granted.status).toBe(200);
    const refused = await postForm(server.app, '/oauth/token', { grant_type: 'client_credentials', scope: 'system/Patient.rs' }, { authorization: basic(client_id, client_secret) });
    expectOAuthError(refused, 400, 'invalid_scope');
    const noAdmin = await postForm(server.app, '/oauth/token', { grant_type: 'client_credentials', scope: 'system/Claim.rs admin' }, { authorization: basic(client_id, client_secret) });
    expectOAuthError(noAdmin, 400, 'invalid_scope');
  });

  it('registers http redirect URIs on localhost for development', async () => {
    const response = await register({ ...app, redirect_uris: ['http://localhost:3000/cb', 'http://127.0.0.1:9000/cb'] });
    expect(response.status).toBe(201);
  });

  it('escapes a registered client name wherever a page shows it', async () => {
    const response = await register({ ...app, client_name: '<script>alert(1)</script>' });
    const { challenge } = pkce();
    const page = await send(
      server.app,
      'GET',
      `/oauth/authorize?${new URLSearchParams({
        response_type: 'code',
        client_id: response.body.client_id,
        redirect_uri: REDIRECT_URI,
        scope: 'openid',
        aud: 'http://fhir.test/fhir',
        state: '"><img src=x onerror=alert(2)>',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      })}`,
    );
    expect(page.status).toBe(200);
    expect(page.text).not.toContain('<script>alert(1)</script>');
    expect(page.text).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(page.text).not.toContain('<img src=x');
  });
});
