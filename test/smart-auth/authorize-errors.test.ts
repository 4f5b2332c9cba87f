import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer } from '../support/test-server.js';
import {
  authorizeUrl,
  createUser,
  FHIR_BASE,
  pkce,
  postForm,
  PASSWORD,
  redirectParams,
  registerClient,
  registerPublicApp,
  send,
  sessionOf,
  startAuthServer,
  submitPage,
  type RegisteredClient,
} from './oauth-support.js';

/** /oauth/authorize's refusals: an HTML page where there is nowhere safe to redirect, else error + state at the redirect_uri. */
describe('/oauth/authorize errors', () => {
  let server: TestServer;
  let client: RegisteredClient;
  const { challenge } = pkce();

  beforeAll(async () => {
    server = await startAuthServer();
    client = await registerPublicApp(server.app, { scope: 'openid fhirUser launch/patient patient/*.rs offline_access' });
    await createUser(server, 'err-doc', 'practitioner', 'Practitioner/err');
  });

  afterAll(async () => {
    await server.close();
  });

  const interactions = async () => Number((await server.db.query('SELECT count(*) FROM auth_interaction')).rows[0].count);

  const expectErrorPage = (response: { status: number; headers: Record<string, unknown>; text: string }, words: RegExp) => {
    expect(response.status).toBe(400);
    expect(response.headers.location).toBeUndefined();
    expect(String(response.headers['content-type'])).toMatch(/^text\/html/);
    expect(response.text).toMatch(/role="alert"/);
    expect(response.text).toMatch(words);
  };

  it('shows an error page for an unknown client, never redirecting', async () => {
    const before = await interactions();
    expectErrorPage(await send(server.app, 'GET', authorizeUrl({ clientId: 'no-such-client', scope: 'openid', challenge })), /not registered/);
    expect(await interactions()).toBe(before);
  });

  it('shows an error page for a missing client_id', async () => {
    expectErrorPage(await send(server.app, 'GET', '/oauth/authorize?response_type=code'), /not registered/);
  });

  it('shows an error page for a redirect_uri that is not registered exactly', async () => {
    for (const redirectUri of ['https://evil.example.org/callback', 'https://app.example.org/callback/', 'https://app.example.org/callback?x=1']) {
      expectErrorPage(await send(server.app, 'GET', authorizeUrl({ clientId: client.client_id, scope: 'openid', challenge, redirectUri })), /redirect_uri/);
    }
  });

  it('shows an error page for a repeated parameter', async () => {
    const url = `${authorizeUrl({ clientId: client.client_id, scope: 'openid', challenge })}&client_id=${client.client_id}`;
    expectErrorPage(await send(server.app, 'GET', url), /repeated/);
  });

  it('redirects invalid_request with the state when aud is not this FHIR server', async () => {
    for (const aud of ['https://other.example.org/fhir', `${FHIR_BASE}/Patient`]) {
      const params = redirectParams(await send(server.app, 'GET', authorizeUrl({ clientId: client.client_id, scope: 'openid', challenge, aud, state: 's-aud' })));
      expect(params.get('error')).toBe('invalid_request');
      expect(params.get('state')).toBe('s-aud');
      expect(params.get('code')).toBeNull();
    }
  });

  it('redirects invalid_request for plain PKCE, a missing challenge and a malformed one', async () => {
    const plain = redirectParams(await send(server.app, 'GET', authorizeUrl({ clientId: client.client_id, scope: 'openid', challenge, method: 'plain' })));
    expect(plain.get('error')).toBe('invalid_request');
    expect(plain.get('error_description')).toMatch(/S256/);
    const url = authorizeUrl({ clientId: client.client_id, scope: 'openid', challenge }).replace(/&code_challenge=[^&]*/, '');
    expect(redirectParams(await send(server.app, 'GET', url)).get('error')).toBe('invalid_request');
    const short = redirectParams(await send(server.app, 'GET', authorizeUrl({ clientId: client.client_id, scope: 'openid', challenge: 'abc' })));
    expect(short.get('error')).toBe('invalid_request');
  });

  it('redirects unsupported_response_type for anything but code', async () => {
    const url = authorizeUrl({ clientId: client.client_id, scope: 'openid', challenge }).replace('response_type=code', 'response_type=token');
    const params = redirectParams(await send(server.app, 'GET', url));
    expect(params.get('error')).toBe('unsupported_response_type');
    expect(params.get('state')).toBe('state-123');
  });

  it('redirects invalid_scope for scopes beyond the registration, for a query that is no search of its type, and for none', async () => {
    for (const scope of ['openid user/*.rs', 'patient/*.cruds', 'system/*.rs', 'admin', 'online_access', 'patient/Unknown.rs', 'patient/Patient.rs?category=x']) {
      const params = redirectParams(await send(server.app, 'GET', authorizeUrl({ clientId: client.client_id, scope, challenge })));
      expect(params.get('error'), scope).toBe('invalid_scope');
    }
    const url = authorizeUrl({ clientId: client.client_id, scope: 'x', challenge }).replace('scope=x', 'scope=');
    expect(redirectParams(await send(server.app, 'GET', url)).get('error')).toBe('invalid_scope');
  });

  it('accepts scopes a registered wildcard covers (v2 query-narrowed and v1 spellings)', async () => {
    const response = await send(
      server.app,
      'GET',
      authorizeUrl({ clientId: client.client_id, scope: 'patient/Observation.rs?category=laboratory patient/Patient.read', challenge }),
    );
    expect(response.status).toBe(200);
  });

  it('redirects unauthorized_client for a client not registered for authorization_code', async () => {
    const service = await registerClient(server.app, {
      client_name: 'Both',
      redirect_uris: ['https://app.example.org/callback'],
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'system/*.rs',
    });
    const params = redirectParams(await send(server.app, 'GET', authorizeUrl({ clientId: service.client_id, scope: 'system/*.rs', challenge })));
    expect(params.get('error')).toBe('unauthorized_client');
  });

  it('redirects invalid_request for an unknown launch value', async () => {
    const params = redirectParams(await send(server.app, 'GET', authorizeUrl({ clientId: client.client_id, scope: 'openid', challenge, launch: 'forged' })));
    expect(params.get('error')).toBe('invalid_request');
  });

  it('refuses a page post whose cookie does not match its interaction (CSRF), and one without a cookie', async () => {
    const login = await send(server.app, 'GET', authorizeUrl({ clientId: client.client_id, scope: 'openid', challenge }));
    const session = sessionOf(login);
    const forged = await submitPage(server.app, { ...session, cookie: 'smart_interaction=someone-else' }, { username: 'err-doc', password: PASSWORD });
    expectErrorPage(forged, /no longer valid/);
    const bare = await postForm(server.app, '/oauth/authorize', { interaction: session.interaction, username: 'err-doc', password: PASSWORD });
    expectErrorPage(bare, /no longer valid/);
    const { rows } = await server.db.query('SELECT user_id FROM auth_interaction');
    expect(rows.every((row) => row.user_id === null)).toBe(true);
  });

  it('refuses a page post after the interaction expired', async () => {
    const session = sessionOf(await send(server.app, 'GET', authorizeUrl({ clientId: client.client_id, scope: 'openid', challenge })));
    await server.db.query(`UPDATE auth_interaction SET expires = now() - interval '1 second'`);
    expectErrorPage(await submitPage(server.app, session, { username: 'err-doc', password: PASSWORD }), /no longer valid/);
  });

  it('stores only a hash of the interaction id', async () => {
    const session = sessionOf(await send(server.app, 'GET', authorizeUrl({ clientId: client.client_id, scope: 'openid', challenge })));
    const { rows } = await server.db.query('SELECT id_hash FROM auth_interaction');
    expect(rows.map((row) => row.id_hash)).not.toContain(session.interaction);
  });
});
