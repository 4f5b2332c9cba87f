import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, startTestServer, type TestServer } from '../support/test-server.js';
import {
  ADMIN_CLIENT_ID,
  ADMIN_CLIENT_SECRET,
  authorizeUrl,
  basic,
  createUser,
  pkce,
  postForm,
  registerPublicApp,
  send,
  sessionOf,
  startAuthServer,
  submitPage,
} from './oauth-support.js';

/** Waits for the background audit writer, then the AuditEvents of one authentication action. */
async function authenticationEvents(server: TestServer, action: string, atLeast = 1) {
  for (let i = 0; i < 50; i++) {
    const response = await fhirRequest(server.app, 'GET', `/fhir/AuditEvent?subtype=${action}&_count=100`);
    if ((response.body.entry?.length ?? 0) >= atLeast) return response.body.entry.map((e: { resource: unknown }) => e.resource);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return [];
}

describe('authentication events and login throttling', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startAuthServer();
  });
  afterAll(async () => server?.close());

  it('audits a token issued and a token refused, with the client and the outcome', async () => {
    const form = { grant_type: 'client_credentials', scope: 'system/*.rs' };
    expect((await postForm(server.app, '/oauth/token', form, { authorization: basic(ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET) })).status).toBe(200);
    expect((await postForm(server.app, '/oauth/token', form, { authorization: basic(ADMIN_CLIENT_ID, 'wrong') })).status).toBe(401);
    const events = await authenticationEvents(server, 'token-issue', 2);
    expect(events.map((e: { outcome: string }) => e.outcome).sort()).toEqual(['0', '4']);
    expect(events[0]).toMatchObject({
      type: { code: '110114' },
      agent: [{ who: { identifier: { value: ADMIN_CLIENT_ID } }, requestor: true }],
    });
  });

  it('audits a refused client id holding a NUL character, and the events written with it', async () => {
    const refused = await postForm(server.app, '/oauth/token', { grant_type: 'client_credentials', client_id: 'nul\u0000client', client_secret: 'x' });
    expect(refused.status).toBe(400);
    const form = { grant_type: 'client_credentials', scope: 'system/*.rs', client_id: ADMIN_CLIENT_ID, client_secret: ADMIN_CLIENT_SECRET };
    expect((await postForm(server.app, '/oauth/token', form)).status).toBe(200);

    const clientsOf = (events: { agent: { who: { identifier: { value: string } } }[]; period?: unknown }[]) =>
      events.map((event) => event.agent[0].who.identifier.value);
    let clients: string[] = [];
    for (let i = 0; i < 50 && !clients.includes('nul\ufffdclient'); i++) {
      clients = clientsOf(await authenticationEvents(server, 'token-issue'));
      if (!clients.includes('nul\ufffdclient')) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(clients).toContain('nul\ufffdclient');
    expect(clients).toContain(ADMIN_CLIENT_ID);
  });

  it('audits logins and failed logins, and throttles an account after repeated failures', async () => {
    await createUser(server, 'dr.who', 'practitioner', 'Practitioner/who');
    const app = await registerPublicApp(server.app);
    const { challenge } = pkce();
    const login = async (password: string) => {
      const page = await send(server.app, 'GET', authorizeUrl({ clientId: app.client_id, scope: 'openid user/*.rs', challenge }));
      return submitPage(server.app, sessionOf(page), { username: 'dr.who', password });
    };
    for (let i = 0; i < 5; i++) {
      const failed = await login('not the password');
      expect(failed.status).toBe(200);
      expect(failed.text).toContain('role="alert"');
    }
    const throttled = await login('not the password');
    expect(throttled.status).toBe(429);
    expect(throttled.text).toContain('Too many failed sign-ins');
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);

    const failures = await authenticationEvents(server, 'failed-login', 5);
    expect(failures[0]).toMatchObject({ outcome: '4', agent: [{ name: 'dr.who' }] });
    expect(await authenticationEvents(server, 'login-throttled')).toHaveLength(1);
  });
});

describe('the token endpoint rate limit', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET, RATE_LIMIT_PER_MINUTE: '2' });
  });
  afterAll(async () => server?.close());

  it('answers slow_down (429, Retry-After) to a client beyond its requests per minute', async () => {
    const form = { grant_type: 'client_credentials', scope: 'system/*.rs' };
    const ask = () => postForm(server.app, '/oauth/token', form, { authorization: basic(ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET) });
    expect((await ask()).status).toBe(200);
    expect((await ask()).status).toBe(200);
    const refused = await ask();
    expect(refused.status).toBe(429);
    expect(refused.body.error).toBe('slow_down');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
  });
});
