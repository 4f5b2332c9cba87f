import { randomUUID } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/smart-auth/passwords.js';
import { startTestServer, TEST_BASE_URL, type TestServer } from '../support/test-server.js';

let server: TestServer;
let adminToken: string;

beforeAll(async () => {
  server = await startTestServer();
  adminToken = await server.auth.tokens.issue({ sub: 'admin', client_id: 'test', scope: 'system/*.* admin' });
});

afterAll(async () => server.close());

beforeEach(async () => {
  await server.db.query('DELETE FROM auth_user');
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read JSON freely
  body: any;
}

/** One call to /admin/users with the admin token (`token: null`: none); the body is sent as `contentType`. */
async function call(
  method: InjectOptions['method'],
  url: string,
  body?: unknown,
  { token = adminToken as string | null, contentType = 'application/json' } = {},
): Promise<Reply> {
  const response = await server.app.inject({
    method,
    url,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': contentType } : {}) },
    payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.statusCode, headers: response.headers, body: response.body ? JSON.parse(response.body) : undefined };
}

const PRACTITIONER = { username: 'dr.who', password: 'correct horse', fhirUser: 'Practitioner/123', role: 'practitioner' };

async function create(overrides: Record<string, unknown> = {}): Promise<Reply> {
  return call('POST', '/admin/users', { ...PRACTITIONER, ...overrides });
}

async function storedRows(): Promise<Record<string, unknown>[]> {
  return (await server.db.query('SELECT * FROM auth_user ORDER BY username')).rows;
}

function expectOAuthError(reply: Reply, status: number, error: string, description?: RegExp): void {
  expect(reply.status).toBe(status);
  expect(reply.body.error).toBe(error);
  expect(typeof reply.body.error_description).toBe('string');
  if (description) expect(reply.body.error_description).toMatch(description);
  expect(Object.keys(reply.body).sort()).toEqual(['error', 'error_description']);
}

describe('/admin/users: who may call it', () => {
  const someId = randomUUID();
  const routes: [InjectOptions['method'], string, unknown?][] = [
    ['POST', '/admin/users', PRACTITIONER],
    ['GET', '/admin/users?username=dr.who'],
    ['GET', `/admin/users/${someId}`],
    ['PATCH', `/admin/users/${someId}`, { active: false }],
    ['DELETE', `/admin/users/${someId}`],
  ];

  it.each(routes)('%s %s without a token is 401 with WWW-Authenticate: Bearer', async (method, url, body) => {
    const reply = await call(method, url, body, { token: null });
    expectOAuthError(reply, 401, 'invalid_token', /access token/);
    expect(reply.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(reply.headers['cache-control']).toBe('no-store');
  });

  it.each(routes)('%s %s with a token without the admin scope is 403', async (method, url, body) => {
    const token = await server.auth.tokens.issue({ sub: 'svc', client_id: 'test', scope: 'system/*.*' });
    const reply = await call(method, url, body, { token });
    expectOAuthError(reply, 403, 'insufficient_scope', /admin scope/);
    expect(reply.headers['www-authenticate']).toMatch(/^Bearer .*error="insufficient_scope"/);
  });

  it('refuses a malformed, forged, expired or revoked token with 401 and error="invalid_token"', async () => {
    const expired = await server.auth.tokens.issue({ sub: 'admin', client_id: 'test', scope: 'admin' }, -60);
    const revoked = await server.auth.tokens.issue({ sub: 'admin', client_id: 'test', scope: 'admin' });
    const [, payload] = revoked.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    await server.auth.tokens.revoke(claims);
    const forged = adminToken.slice(0, -4) + (adminToken.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    for (const [token, why] of [
      ['not-a-jwt', /not valid/],
      [forged, /not valid/],
      [expired, /expired/],
      [revoked, /revoked/],
    ] as const) {
      const reply = await call('GET', `/admin/users/${someId}`, undefined, { token });
      expectOAuthError(reply, 401, 'invalid_token', why);
      expect(reply.headers['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/);
    }
  });

  it('refuses a scheme other than Bearer', async () => {
    const response = await server.app.inject({ method: 'GET', url: `/admin/users/${someId}`, headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } });
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('refuses the admin scope in the token of a user who is not an admin, and accepts it from an admin user', async () => {
    const practitioner = await server.auth.tokens.issue({ sub: randomUUID(), client_id: 'app', scope: 'admin user/*.*', role: 'practitioner', fhirUser: 'Practitioner/1' });
    expect((await call('POST', '/admin/users', PRACTITIONER, { token: practitioner })).status).toBe(403);
    const admin = await server.auth.tokens.issue({ sub: randomUUID(), client_id: 'app', scope: 'admin', role: 'admin', fhirUser: 'Practitioner/1' });
    expect((await call('POST', '/admin/users', PRACTITIONER, { token: admin })).status).toBe(201);
  });

  it('changes nothing for a caller without the admin scope', async () => {
    const token = await server.auth.tokens.issue({ sub: 'svc', client_id: 'test', scope: 'system/*.*' });
    await call('POST', '/admin/users', PRACTITIONER, { token });
    const created = (await create()).body;
    await call('PATCH', `/admin/users/${created.id}`, { active: false, password: 'another password' }, { token });
    await call('DELETE', `/admin/users/${created.id}`, undefined, { token });
    const rows = await storedRows();
    expect(rows).toHaveLength(1);
    expect(rows[0].active).toBe(true);
    expect(await verifyPassword(PRACTITIONER.password, rows[0].password_hash as string)).toBe(true);
  });
});

describe('POST /admin/users', () => {
  it('creates an account: 201 with {id, username, fhirUser, role, active}, Location and no-store', async () => {
    const reply = await create();
    expect(reply.status).toBe(201);
    expect(reply.body).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), username: 'dr.who', fhirUser: 'Practitioner/123', role: 'practitioner', active: true });
    expect(reply.headers.location).toBe(`${TEST_BASE_URL}/admin/users/${reply.body.id}`);
    expect(reply.headers['cache-control']).toBe('no-store');
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
  });

  it('stores the password as a salted scrypt hash, never the password itself', async () => {
    await create();
    await create({ username: 'dr.two' });
    const [first, second] = await storedRows();
    for (const row of [first, second]) {
      expect(row.password_hash).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
      expect(row.password_hash).not.toContain(PRACTITIONER.password);
      expect(await verifyPassword(PRACTITIONER.password, row.password_hash as string)).toBe(true);
    }
    expect(first.password_hash).not.toBe(second.password_hash);
  });

  it('creates an account that can log in', async () => {
    await create();
    expect(await server.auth.users.authenticate('dr.who', PRACTITIONER.password)).toMatchObject({ username: 'dr.who', role: 'practitioner' });
    expect(await server.auth.users.authenticate('dr.who', 'wrong password')).toBeUndefined();
  });

  it.each([
    ['patient', 'Patient/p1'],
    ['practitioner', 'Practitioner/x-1'],
    ['practitioner', 'PractitionerRole/r.2'],
    ['admin', 'Practitioner/a'],
    ['admin', 'Person/a'],
  ])('accepts role %s with fhirUser %s', async (role, fhirUser) => {
    const reply = await create({ role, fhirUser });
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({ role, fhirUser });
  });

  it('answers 409 for a username that is taken, and keeps the first account', async () => {
    const first = await create();
    const reply = await create({ password: 'a different one', fhirUser: 'Practitioner/999' });
    expectOAuthError(reply, 409, 'conflict', /dr\.who/);
    const rows = await storedRows();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: first.body.id, fhir_user: 'Practitioner/123' });
  });

  it.each([
    ['missing username', { username: undefined }, /"username" is required/],
    ['missing password', { password: undefined }, /"password" is required/],
    ['missing fhirUser', { fhirUser: undefined }, /"fhirUser" is required/],
    ['missing role', { role: undefined }, /"role" is required/],
    ['a null username', { username: null }, /"username" is required/],
    ['a username that is not a string', { username: 42 }, /"username" must be a string/],
    ['an empty username', { username: '' }, /"username" must be 1 to 128 characters/],
    ['a username with spaces', { username: 'dr who' }, /"username" must be 1 to 128 characters, without spaces/],
    ['a username too long', { username: 'x'.repeat(129) }, /"username" must be 1 to 128/],
    ['a password of 7 characters', { password: 'abcdefg' }, /"password" must be at least 8 characters/],
    ['a password too long', { password: 'x'.repeat(1025) }, /"password" must be at most 1024/],
    ['a password that is not a string', { password: 12345678 }, /"password" must be a string/],
    ['an unknown role', { role: 'superuser' }, /"role" must be one of patient, practitioner, admin/],
    ['a patient who is a Practitioner', { role: 'patient', fhirUser: 'Practitioner/123' }, /does not fit the role patient: it must be a Patient/],
    ['a practitioner who is a Patient', { role: 'practitioner', fhirUser: 'Patient/1' }, /does not fit the role practitioner/],
    ['a fhirUser that is not a reference', { fhirUser: 'Practitioner' }, /"fhirUser" "Practitioner" does not fit/],
    ['an absolute fhirUser', { fhirUser: 'http://other.example/Practitioner/1' }, /does not fit/],
    ['a fhirUser of another type', { role: 'admin', fhirUser: 'Organization/1' }, /does not fit the role admin/],
    ['an unknown property', { active: false }, /Unknown properties: active/],
    ['an id chosen by the client', { id: randomUUID() }, /Unknown properties: id/],
  ])('answers 400 for %s, and stores nothing', async (_name, overrides, message) => {
    const reply = await create(overrides);
    expectOAuthError(reply, 400, 'invalid_request', message);
    expect(await storedRows()).toHaveLength(0);
  });

  it('accepts a password of exactly 8 characters (counted as characters, not bytes)', async () => {
    expect((await create({ password: 'abcdefgh' })).status).toBe(201);
    expect((await create({ username: 'short', password: 'ééééééé' })).status).toBe(400);
  });

  it('answers 400 for a body that is not a JSON object', async () => {
    for (const body of ['[]', '"text"', 'null', '{"username": ']) {
      const reply = await call('POST', '/admin/users', body);
      expectOAuthError(reply, 400, 'invalid_request');
    }
    expectOAuthError(await call('POST', '/admin/users'), 415, 'invalid_request');
    expect(await storedRows()).toHaveLength(0);
  });

  it('answers 415 for a body that is not application/json', async () => {
    const form = new URLSearchParams(PRACTITIONER).toString();
    expectOAuthError(await call('POST', '/admin/users', form, { contentType: 'application/x-www-form-urlencoded' }), 415, 'invalid_request');
    expectOAuthError(await call('POST', '/admin/users', JSON.stringify(PRACTITIONER), { contentType: 'text/plain' }), 415, 'invalid_request', /application\/json/);
    expect(await storedRows()).toHaveLength(0);
  });

  it('accepts application/json with a charset', async () => {
    expect((await call('POST', '/admin/users', PRACTITIONER, { contentType: 'application/json; charset=utf-8' })).status).toBe(201);
  });
});

describe('GET /admin/users/{id}', () => {
  it('answers the account as created, never its password or hash', async () => {
    const created = (await create()).body;
    const reply = await call('GET', `/admin/users/${created.id}`);
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual(created);
    expect(Object.keys(reply.body).sort()).toEqual(['active', 'fhirUser', 'id', 'role', 'username']);
    expect(JSON.stringify(reply.body)).not.toMatch(/scrypt|correct horse/);
    expect(reply.headers['cache-control']).toBe('no-store');
  });

  it('answers 404 for an unknown id, whether or not it looks like one', async () => {
    expectOAuthError(await call('GET', `/admin/users/${randomUUID()}`), 404, 'not_found');
    expectOAuthError(await call('GET', '/admin/users/not-an-id'), 404, 'not_found', /not-an-id/);
  });
});

describe('GET /admin/users?username=', () => {
  it('finds an account by its username', async () => {
    const created = (await create()).body;
    await create({ username: 'other' });
    const reply = await call('GET', '/admin/users?username=dr.who');
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual([created]);
  });

  it('answers an empty list for an unknown username', async () => {
    await create();
    expect((await call('GET', '/admin/users?username=DR.WHO')).body).toEqual([]);
  });

  it('answers 400 without exactly one username', async () => {
    expectOAuthError(await call('GET', '/admin/users'), 400, 'invalid_request', /username/);
    expectOAuthError(await call('GET', '/admin/users?username='), 400, 'invalid_request');
    expectOAuthError(await call('GET', '/admin/users?username=a&username=b'), 400, 'invalid_request');
  });
});

describe('PATCH /admin/users/{id}', () => {
  let id: string;
  beforeEach(async () => {
    id = (await create()).body.id;
  });

  async function stored(): Promise<Record<string, unknown>> {
    return (await server.db.query('SELECT * FROM auth_user WHERE id = $1', [id])).rows[0];
  }

  it('changes the password: the new one logs in, the old one no longer does', async () => {
    const before = await stored();
    const reply = await call('PATCH', `/admin/users/${id}`, { password: 'a brand new secret' });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ id, username: 'dr.who', fhirUser: 'Practitioner/123', role: 'practitioner', active: true });
    const after = await stored();
    expect(after.password_hash).not.toBe(before.password_hash);
    expect(after.password_hash).toMatch(/^scrypt\$/);
    expect(await server.auth.users.authenticate('dr.who', 'a brand new secret')).toBeDefined();
    expect(await server.auth.users.authenticate('dr.who', PRACTITIONER.password)).toBeUndefined();
  });

  it('deactivates and reactivates an account; an inactive account cannot log in', async () => {
    expect((await call('PATCH', `/admin/users/${id}`, { active: false })).body.active).toBe(false);
    expect((await stored()).active).toBe(false);
    expect(await server.auth.users.authenticate('dr.who', PRACTITIONER.password)).toBeUndefined();
    expect((await call('PATCH', `/admin/users/${id}`, { active: true })).body.active).toBe(true);
    expect(await server.auth.users.authenticate('dr.who', PRACTITIONER.password)).toBeDefined();
  });

  it('changes the role when the fhirUser fits the new one', async () => {
    const reply = await call('PATCH', `/admin/users/${id}`, { role: 'admin' });
    expect(reply.status).toBe(200);
    expect(reply.body.role).toBe('admin');
    expect((await stored()).role).toBe('admin');
  });

  it('refuses a role the fhirUser does not fit, and changes nothing', async () => {
    const before = await stored();
    expectOAuthError(await call('PATCH', `/admin/users/${id}`, { role: 'patient', password: 'another password' }), 400, 'invalid_request', /does not fit the role patient/);
    expect(await stored()).toEqual(before);
  });

  it('changes several things at once', async () => {
    const reply = await call('PATCH', `/admin/users/${id}`, { role: 'admin', active: false, password: 'yet another one' });
    expect(reply.body).toMatchObject({ role: 'admin', active: false });
    expect(await verifyPassword('yet another one', (await stored()).password_hash as string)).toBe(true);
  });

  it('answers an empty change with the account unchanged', async () => {
    const before = await stored();
    const reply = await call('PATCH', `/admin/users/${id}`, {});
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ id, role: 'practitioner', active: true });
    expect((await stored()).password_hash).toBe(before.password_hash);
  });

  it.each([
    ['a short password', { password: 'short' }, /at least 8/],
    ['a password that is not a string', { password: 123456789 }, /"password" must be a string/],
    ['an unknown role', { role: 'root' }, /"role" must be one of/],
    ['active that is not a boolean', { active: 'false' }, /"active" must be true or false/],
    ['a username change', { username: 'new.name' }, /Unknown properties: username/],
    ['a fhirUser change', { fhirUser: 'Practitioner/9' }, /Unknown properties: fhirUser/],
  ])('answers 400 for %s, and changes nothing', async (_name, body, message) => {
    const before = await stored();
    expectOAuthError(await call('PATCH', `/admin/users/${id}`, body), 400, 'invalid_request', message);
    expect(await stored()).toEqual(before);
  });

  it('answers 415 for a body that is not application/json', async () => {
    expectOAuthError(await call('PATCH', `/admin/users/${id}`, '{"active": false}', { contentType: 'text/plain' }), 415, 'invalid_request');
    expect((await stored()).active).toBe(true);
  });

  it('answers 404 for an unknown id', async () => {
    expectOAuthError(await call('PATCH', `/admin/users/${randomUUID()}`, { active: false }), 404, 'not_found');
    expectOAuthError(await call('PATCH', '/admin/users/nope', { active: false }), 404, 'not_found');
  });

  describe('ending sessions', () => {
    async function refreshToken(status = 'active'): Promise<string> {
      const hash = randomUUID();
      await server.db.query(`INSERT INTO auth_client (client_id, auth_method) VALUES ('app', 'none') ON CONFLICT DO NOTHING`);
      await server.db.query(
        `INSERT INTO auth_refresh_token (token_hash, family_id, client_id, user_id, scope, offline, status, expires)
         VALUES ($1, $2, 'app', $3, 'openid', true, $4, now() + interval '1 day')`,
        [hash, randomUUID(), id, status],
      );
      return hash;
    }

    async function statusOf(hash: string): Promise<string> {
      return (await server.db.query('SELECT status FROM auth_refresh_token WHERE token_hash = $1', [hash])).rows[0].status;
    }

    it.each([[{ password: 'a new password' }], [{ role: 'admin' }], [{ active: false }]])('revokes the refresh tokens on %o', async (change) => {
      const active = await refreshToken();
      const rotated = await refreshToken('rotated');
      expect((await call('PATCH', `/admin/users/${id}`, change)).status).toBe(200);
      expect(await statusOf(active)).toBe('revoked');
      expect(await statusOf(rotated)).toBe('rotated');
    });

    it('keeps them when the account is only (re)activated', async () => {
      const active = await refreshToken();
      await call('PATCH', `/admin/users/${id}`, { active: true });
      expect(await statusOf(active)).toBe('active');
    });

    it('keeps them when the change is refused', async () => {
      const active = await refreshToken();
      await call('PATCH', `/admin/users/${id}`, { role: 'patient' });
      expect(await statusOf(active)).toBe('active');
    });
  });
});

describe('DELETE /admin/users/{id}', () => {
  it('removes the account: 204, then 404 to GET, PATCH and DELETE, and the row is gone', async () => {
    const { id } = (await create()).body;
    const other = (await create({ username: 'stays' })).body;
    const reply = await call('DELETE', `/admin/users/${id}`);
    expect(reply.status).toBe(204);
    expect(reply.body).toBeUndefined();
    expect((await call('GET', `/admin/users/${id}`)).status).toBe(404);
    expect((await call('PATCH', `/admin/users/${id}`, { active: true })).status).toBe(404);
    expect((await call('DELETE', `/admin/users/${id}`)).status).toBe(404);
    expect((await storedRows()).map((row) => row.id)).toEqual([other.id]);
    expect(await server.auth.users.authenticate('dr.who', PRACTITIONER.password)).toBeUndefined();
  });

  it('frees the username for a new account', async () => {
    const { id } = (await create()).body;
    await call('DELETE', `/admin/users/${id}`);
    expect((await create()).status).toBe(201);
  });

  it('answers 404 for an unknown id', async () => {
    expectOAuthError(await call('DELETE', `/admin/users/${randomUUID()}`), 404, 'not_found');
    expectOAuthError(await call('DELETE', '/admin/users/x'), 404, 'not_found');
  });
});
