import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { Users } from '../../src/smart-auth/users.js';
import { FHIR_BASE, fhirRequest, startTestServer, TEST_BASE_URL, type FhirTestResponse, type TestServer } from '../support/test-server.js';

export { FHIR_BASE, TEST_BASE_URL };
export const ADMIN_CLIENT_ID = 'admin-client';
export const ADMIN_CLIENT_SECRET = 'admin-secret-with:colon+plus';
export const TOKEN_ENDPOINT = `${TEST_BASE_URL}/oauth/token`;
export const REDIRECT_URI = 'https://app.example.org/callback';
export const PASSWORD = 'correct horse battery staple';

/** The whole server with the bootstrap admin client, and private callbacks allowed (the tests' jwks_uri is on 127.0.0.1). */
export function startAuthServer(): Promise<TestServer> {
  return startTestServer({ ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET, ALLOW_PRIVATE_CALLBACKS: 'true' });
}

export function basic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** A request carrying only the headers given (not the test server's default admin token). */
export function send(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'OPTIONS',
  url: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<FhirTestResponse> {
  return fhirRequest(app, method, url, body, { authorization: '', ...headers });
}

/** A form POST (application/x-www-form-urlencoded), as OAuth clients send one. */
export async function postForm(
  app: FastifyInstance,
  url: string,
  params: Record<string, string | undefined>,
  headers: Record<string, string> = {},
): Promise<FhirTestResponse> {
  const body = new URLSearchParams(Object.entries(params).filter((entry): entry is [string, string] => entry[1] !== undefined));
  return send(app, 'POST', url, body.toString(), { 'content-type': 'application/x-www-form-urlencoded', ...headers });
}

export function expectOAuthError(response: FhirTestResponse, status: number, error: string): void {
  expect({ status: response.status, error: response.body?.error }).toEqual({ status, error });
  expect(typeof response.body.error_description).toBe('string');
}

export async function adminToken(app: FastifyInstance, scope = 'system/*.cruds admin'): Promise<string> {
  const response = await postForm(app, '/oauth/token', { grant_type: 'client_credentials', scope }, { authorization: basic(ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET) });
  expect(response.status).toBe(200);
  return response.body.access_token;
}

export interface RegisteredClient {
  client_id: string;
  client_secret?: string;
}

export async function registerClient(app: FastifyInstance, metadata: Record<string, unknown>): Promise<RegisteredClient> {
  const token = await adminToken(app);
  const response = await send(app, 'POST', '/oauth/register', JSON.stringify(metadata), {
    'content-type': 'application/json',
    authorization: `Bearer ${token}`,
  });
  expect(response.status).toBe(201);
  return response.body;
}

export const APP_SCOPE = 'openid fhirUser profile launch launch/patient launch/encounter offline_access online_access patient/*.cruds user/*.cruds';

/** A public SMART app (PKCE, no secret). */
export function registerPublicApp(app: FastifyInstance, metadata: Record<string, unknown> = {}): Promise<RegisteredClient> {
  return registerClient(app, {
    client_name: 'Growth Chart',
    redirect_uris: [REDIRECT_URI],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code'],
    scope: APP_SCOPE,
    ...metadata,
  });
}

export async function createUser(server: TestServer, username: string, role: 'patient' | 'practitioner' | 'admin', fhirUser: string, active = true) {
  const users = new Users(server.db);
  const user = await users.create({ username, password: PASSWORD, role, fhirUser });
  if (!active) await users.update(user.id, { active: false });
  return user;
}

export async function putPatient(app: FastifyInstance, id: string, family: string, given: string, birthDate: string): Promise<void> {
  const token = await adminToken(app);
  const response = await fhirRequest(app, 'PUT', `/fhir/Patient/${id}`, { resourceType: 'Patient', id, name: [{ family, given: [given] }], birthDate }, {
    authorization: `Bearer ${token}`,
  });
  expect([200, 201]).toContain(response.status);
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface AuthorizeRequest {
  clientId: string;
  scope: string;
  challenge: string;
  state?: string;
  launch?: string;
  nonce?: string;
  aud?: string;
  redirectUri?: string;
  method?: string;
}

export function authorizeUrl(request: AuthorizeRequest): string {
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: request.clientId,
    redirect_uri: request.redirectUri ?? REDIRECT_URI,
    scope: request.scope,
    state: request.state ?? 'state-123',
    aud: request.aud ?? FHIR_BASE,
    code_challenge: request.challenge,
    code_challenge_method: request.method ?? 'S256',
  });
  if (request.launch) params.set('launch', request.launch);
  if (request.nonce) params.set('nonce', request.nonce);
  return `/oauth/authorize?${params}`;
}

/** A browser's side of the pages: the page's hidden interaction id and the cookie set with it. */
export interface PageSession {
  interaction: string;
  cookie: string;
}

export function hiddenInteraction(html: string): string {
  const match = /name="interaction" value="([^"]+)"/.exec(html);
  expect(match, 'the page carries the interaction').not.toBeNull();
  return (match as RegExpExecArray)[1];
}

export function sessionOf(response: FhirTestResponse): PageSession {
  const setCookie = String(response.headers['set-cookie']);
  expect(setCookie).toMatch(/HttpOnly/);
  expect(setCookie).toMatch(/SameSite=Lax/);
  return { interaction: hiddenInteraction(response.text), cookie: setCookie.split(';')[0] };
}

export function submitPage(app: FastifyInstance, session: PageSession, fields: Record<string, string>): Promise<FhirTestResponse> {
  return postForm(app, '/oauth/authorize', { interaction: session.interaction, ...fields }, { cookie: session.cookie });
}

/** The query of a redirect back to the app. */
export function redirectParams(response: FhirTestResponse): URLSearchParams {
  expect(response.status).toBe(302);
  const location = new URL(String(response.headers.location));
  expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
  return location.searchParams;
}

/**
 * Drives the pages as a person would: login, the patient chooser when it comes, and approval;
 * answers the code and state the app receives.
 */
export async function authorizeAs(
  app: FastifyInstance,
  request: AuthorizeRequest,
  username: string,
  choosePatient?: string,
): Promise<{ code: string; state: string | null }> {
  const login = await send(app, 'GET', authorizeUrl(request));
  expect(login.status).toBe(200);
  const session = sessionOf(login);
  let page = await submitPage(app, session, { username, password: PASSWORD });
  expect(page.status).toBe(200);
  if (page.text.includes('name="patient"')) {
    expect(choosePatient, 'the patient chooser was shown').toBeDefined();
    page = await submitPage(app, session, { patient: choosePatient as string });
    expect(page.status).toBe(200);
  }
  expect(page.text).toContain('name="approve"');
  const params = redirectParams(await submitPage(app, session, { approve: 'approve' }));
  return { code: params.get('code') as string, state: params.get('state') };
}

export function exchangeCode(app: FastifyInstance, clientId: string, code: string, verifier: string, extra: Record<string, string> = {}, headers: Record<string, string> = {}) {
  return postForm(app, '/oauth/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier, client_id: clientId, ...extra }, headers);
}

export async function introspect(app: FastifyInstance, token: string): Promise<Record<string, unknown>> {
  const response = await postForm(app, '/oauth/introspect', { token }, { authorization: basic(ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET) });
  expect(response.status).toBe(200);
  return response.body;
}
