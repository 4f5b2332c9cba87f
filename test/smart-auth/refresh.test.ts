import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer } from '../support/test-server.js';
import {
  authorizeAs,
  createUser,
  exchangeCode,
  expectOAuthError,
  introspect,
  pkce,
  postForm,
  registerPublicApp,
  startAuthServer,
  type RegisteredClient,
} from './oauth-support.js';

/** Refresh tokens (RFC 6749 §6): opaque, hashed, rotated on use, a replay revokes the family; narrowing only. */
describe('the refresh_token grant', () => {
  let server: TestServer;
  let client: RegisteredClient;
  let other: RegisteredClient;

  beforeAll(async () => {
    server = await startAuthServer();
    client = await registerPublicApp(server.app);
    other = await registerPublicApp(server.app, { client_name: 'Other' });
    await createUser(server, 'doc', 'practitioner', 'Practitioner/doc1');
  });

  afterAll(async () => {
    await server.close();
  });

  async function tokens(scope = 'openid fhirUser user/*.rs offline_access') {
    const { verifier, challenge } = pkce();
    const { code } = await authorizeAs(server.app, { clientId: client.client_id, scope, challenge }, 'doc');
    const response = await exchangeCode(server.app, client.client_id, code, verifier);
    expect(response.status).toBe(200);
    return response.body;
  }

  const refresh = (token: string, extra: Record<string, string> = {}, clientId = client.client_id) =>
    postForm(server.app, '/oauth/token', { grant_type: 'refresh_token', refresh_token: token, client_id: clientId, ...extra });

  it('refuses an unknown refresh token', async () => {
    expectOAuthError(await refresh('made-up'), 400, 'invalid_grant');
  });

  it('refuses a refresh token presented by another client, leaving it usable by its own', async () => {
    const { refresh_token } = await tokens();
    expectOAuthError(await refresh(refresh_token, {}, other.client_id), 400, 'invalid_grant');
    expect((await refresh(refresh_token)).status).toBe(200);
  });

  it('widening is invalid_scope, and leaves the token usable', async () => {
    const { refresh_token } = await tokens('openid user/Observation.rs offline_access');
    for (const scope of ['user/*.rs', 'user/Observation.cruds', 'openid user/Observation.rs online_access', 'user/Patient.rs']) {
      expectOAuthError(await refresh(refresh_token, { scope }), 400, 'invalid_scope');
    }
    expect((await refresh(refresh_token)).status).toBe(200);
  });

  it('narrowing is granted for that access token; the family keeps the original scope', async () => {
    const first = await tokens('openid user/*.rs offline_access');
    const narrowed = await refresh(first.refresh_token, { scope: 'user/Observation.rs?category=laboratory' });
    expect(narrowed.status).toBe(200);
    expect(narrowed.body.scope).toBe('user/Observation.rs?category=laboratory');
    expect(narrowed.body.id_token).toBeUndefined();
    const next = await refresh(narrowed.body.refresh_token);
    expect(next.body.scope).toBe('openid user/*.rs offline_access');
  });

  it('rotates: a new refresh token each time, the old one rotated in the database', async () => {
    const first = await tokens();
    const second = await refresh(first.refresh_token);
    expect(second.status).toBe(200);
    expect(second.headers['cache-control']).toBe('no-store');
    expect(second.body.refresh_token).toBeTruthy();
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    expect(second.body.access_token).not.toBe(first.access_token);
    expect(second.body.id_token).toBeTruthy();
    const { rows } = await server.db.query('SELECT status, family_id FROM auth_refresh_token ORDER BY created');
    const family = rows.filter((row) => row.family_id === rows[rows.length - 1].family_id);
    expect(family.map((row) => row.status)).toEqual(['rotated', 'active']);
  });

  it('a rotated token presented again revokes the whole family and its access tokens', async () => {
    const first = await tokens();
    const second = await refresh(first.refresh_token);
    const third = await refresh(second.body.refresh_token);
    expect(third.status).toBe(200);

    expectOAuthError(await refresh(first.refresh_token), 400, 'invalid_grant');

    expect(await introspect(server.app, third.body.refresh_token)).toEqual({ active: false });
    expect(await introspect(server.app, third.body.access_token)).toEqual({ active: false });
    expect(await introspect(server.app, second.body.access_token)).toEqual({ active: false });
    expectOAuthError(await refresh(third.body.refresh_token), 400, 'invalid_grant');
    const { rows } = await server.db.query(
      `SELECT DISTINCT status FROM auth_refresh_token WHERE family_id = (SELECT family_id FROM auth_refresh_token WHERE access_jti IS NOT NULL ORDER BY created DESC LIMIT 1)`,
    );
    expect(rows).toEqual([{ status: 'revoked' }]);
  });

  it('refuses an expired refresh token', async () => {
    const { refresh_token } = await tokens();
    await server.db.query(`UPDATE auth_refresh_token SET expires = now() - interval '1 second' WHERE status = 'active'`);
    expectOAuthError(await refresh(refresh_token), 400, 'invalid_grant');
  });

  it('offline_access tokens live months, online_access tokens hours', async () => {
    const offline = await tokens('openid offline_access');
    const online = await tokens('openid online_access');
    const lifetime = async (scope: string) => {
      const { rows } = await server.db.query(
        `SELECT offline, extract(epoch FROM expires - created) AS seconds FROM auth_refresh_token WHERE scope = $1 ORDER BY created DESC LIMIT 1`,
        [scope],
      );
      return rows[0];
    };
    expect(offline.refresh_token).toBeTruthy();
    expect(online.refresh_token).toBeTruthy();
    expect(await lifetime('openid offline_access')).toMatchObject({ offline: true });
    expect(Number((await lifetime('openid offline_access')).seconds)).toBeGreaterThanOrEqual(89 * 24 * 3600);
    expect(await lifetime('openid online_access')).toMatchObject({ offline: false });
    expect(Number((await lifetime('openid online_access')).seconds)).toBeLessThanOrEqual(8 * 3600 + 60);
  });

  it('issues no refresh token without offline_access or online_access', async () => {
    const body = await tokens('openid user/*.rs');
    expect(body.refresh_token).toBeUndefined();
  });

  it('refuses to refresh for a user whose account was deactivated', async () => {
    const user = await createUser(server, 'leaver', 'practitioner', 'Practitioner/leaver');
    const { verifier, challenge } = pkce();
    const { code } = await authorizeAs(server.app, { clientId: client.client_id, scope: 'user/*.rs offline_access', challenge }, 'leaver');
    const { body } = await exchangeCode(server.app, client.client_id, code, verifier);
    await server.db.query('UPDATE auth_user SET active = false WHERE id = $1', [user.id]);
    expectOAuthError(await refresh(body.refresh_token), 400, 'invalid_grant');
  });

  it('keeps refresh tokens only as hashes', async () => {
    const { refresh_token } = await tokens();
    const { rows } = await server.db.query('SELECT token_hash FROM auth_refresh_token');
    expect(rows.map((row) => row.token_hash)).not.toContain(refresh_token);
  });
});
