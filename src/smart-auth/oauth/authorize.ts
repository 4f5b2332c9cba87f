import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OAuthError, oauthErrors } from '../auth-errors.js';
import { splitScopes } from '../scopes.js';
import type { User } from '../users.js';
import type { Client } from './clients.js';
import type { GrantContext } from './codes.js';
import type { OAuthServer } from './context.js';
import { formBody, singleValued, type OAuthParams } from './form.js';
import { boundByRole, notCoveredBy, refuseUnsearchableScopes, withoutPatientScopes } from './granted-scopes.js';
import type { AuthorizationRequest, Interaction } from './interactions.js';
import { consentPage, errorPage, loginPage, patientPage, type PageFrame } from './pages.js';
import { findPatient, findPatients } from './patients.js';
import { isS256Challenge } from './pkce.js';
import { matchesHash, sha256 } from './secrets.js';
import { authenticationEvent } from '../audit/index.js';

/** The interaction id travels in the page and in this cookie; a form posted from elsewhere lacks the cookie (CSRF). */
const COOKIE = 'smart_interaction';
const COOKIE_SECONDS = 600;

/** The pages may not be framed (clickjacking of the consent buttons) nor load anything from outside. */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

function frameOf(server: OAuthServer): PageFrame {
  return { host: new URL(server.issuer).host, action: server.endpoints.authorize };
}

function sendPage(reply: FastifyReply, status: number, page: string): FastifyReply {
  return reply.code(status).headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(page);
}

function sendError(reply: FastifyReply, server: OAuthServer, title: string, message: string): FastifyReply {
  return sendPage(reply, 400, errorPage(frameOf(server), { title, message }));
}

function cookieHeader(server: OAuthServer, value: string, maxAge: number): string {
  const path = new URL(server.endpoints.authorize).pathname;
  return `${COOKIE}=${value}; Path=${path}; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${server.secureCookies ? '; Secure' : ''}`;
}

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

/** Back to the app (RFC 6749 §4.1.2): the redirect_uri with our parameters added to its own query. */
function redirectTo(reply: FastifyReply, redirectUri: string, params: Record<string, string | undefined>): FastifyReply {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(name, value);
  return reply.code(302).header('location', url.toString()).send();
}

function normalizeUrl(url: string): string {
  return url.replace(/\/+$/, '');
}

/**
 * The checks that, once client and redirect_uri are known good, answer with an error at the
 * redirect_uri (RFC 6749 §4.1.2.1). The EHR launch value is used up last, once all else passed.
 */
async function validatedRequest(server: OAuthServer, client: Client, params: OAuthParams): Promise<AuthorizationRequest> {
  if (params.response_type === undefined) throw oauthErrors.invalidRequest('response_type is required');
  if (params.response_type !== 'code') throw oauthErrors.unsupportedResponseType(params.response_type);
  if (!client.grantTypes.includes('authorization_code')) throw oauthErrors.unauthorizedClient('This client is not registered for authorization_code');
  if (params.aud === undefined || normalizeUrl(params.aud) !== normalizeUrl(server.fhirBaseUrl)) {
    throw oauthErrors.invalidRequest(`aud must be this server's FHIR base URL, ${server.fhirBaseUrl}`);
  }
  if (params.code_challenge === undefined) throw oauthErrors.invalidRequest('PKCE is required: code_challenge is missing');
  if (params.code_challenge_method !== 'S256') throw oauthErrors.invalidRequest('code_challenge_method must be S256 (plain is not supported)');
  if (!isS256Challenge(params.code_challenge)) throw oauthErrors.invalidRequest('code_challenge is not an S256 challenge');
  const scope = splitScopes(params.scope);
  if (scope.length === 0) throw oauthErrors.invalidScope('scope is required');
  const refused = notCoveredBy(client.scope, scope);
  if (refused.length) throw oauthErrors.invalidScope(`The client may not be granted: ${refused.join(' ')}`);
  await refuseUnsearchableScopes(scope, server.checkScopeQuery);
  const request: AuthorizationRequest = {
    clientId: client.clientId,
    redirectUri: params.redirect_uri as string,
    scope,
    state: params.state,
    codeChallenge: params.code_challenge,
    nonce: params.nonce,
  };
  if (params.launch === undefined) return request;
  const launch = await server.launches.consume(params.launch);
  if (!launch) throw oauthErrors.invalidRequest('The launch value is unknown, expired or already used');
  return { ...request, launch };
}

/** GET (or POST, `authorize-post`) /oauth/authorize: checks the request and shows the login page. */
async function startAuthorization(server: OAuthServer, raw: URLSearchParams, reply: FastifyReply): Promise<FastifyReply> {
  let params: OAuthParams;
  try {
    params = singleValued(raw);
  } catch (error) {
    return sendError(reply, server, 'Invalid request', (error as OAuthError).description);
  }
  const client = params.client_id === undefined ? undefined : await server.clients.get(params.client_id);
  // Without a known client and one of its registered redirect URIs there is nowhere safe to send an error.
  if (!client) return sendError(reply, server, 'Unknown application', 'The application that sent you here is not registered with this server.');
  if (params.redirect_uri === undefined || !client.redirectUris.includes(params.redirect_uri)) {
    return sendError(reply, server, 'Invalid return address', 'The application asked to return to an address it has not registered (redirect_uri).');
  }
  let request: AuthorizationRequest;
  try {
    request = await validatedRequest(server, client, params);
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    return redirectTo(reply, params.redirect_uri, { error: error.error, error_description: error.description, state: params.state });
  }
  const interaction = await server.interactions.create(request);
  reply.header('set-cookie', cookieHeader(server, interaction, COOKIE_SECONDS));
  return sendPage(reply, 200, loginPage(frameOf(server), { interaction, clientName: clientName(client) }));
}

function clientName(client: Client): string {
  return client.clientName ?? client.clientId;
}

/** The patient whose record `patient/` scopes reach: a patient's own, the EHR's, or the one chosen. */
function patientInContext(interaction: Interaction, user: User): string | undefined {
  if (user.role === 'patient') return user.fhirUser.slice('Patient/'.length);
  return interaction.request.launch?.patient ?? interaction.patient;
}

function needsPatientChoice(interaction: Interaction, user: User): boolean {
  return user.role !== 'patient' && interaction.request.scope.includes('launch/patient') && patientInContext(interaction, user) === undefined;
}

/** What approving would grant: the request bounded by the role, and the launch context. */
function grantFor(interaction: Interaction, user: User): { scope: string[]; context: GrantContext } {
  const { request } = interaction;
  const patient = patientInContext(interaction, user);
  const fromEhr = patient !== undefined && patient === request.launch?.patient;
  const bounded = boundByRole(user.role, request.scope);
  return {
    scope: patient === undefined ? withoutPatientScopes(bounded) : bounded,
    context: {
      patient,
      encounter: fromEhr ? request.launch?.encounter : undefined,
      needPatientBanner: patient === undefined ? undefined : !fromEhr,
      nonce: request.nonce,
    },
  };
}

async function showPatientChooser(server: OAuthServer, interaction: Interaction, client: Client, reply: FastifyReply, search?: string, error?: string) {
  const patients = await findPatients(server.auth.db, search);
  return sendPage(reply, 200, patientPage(frameOf(server), { interaction: interaction.id, clientName: clientName(client), patients, search, error }));
}

async function showConsent(server: OAuthServer, interaction: Interaction, client: Client, user: User, reply: FastifyReply) {
  const { scope, context } = grantFor(interaction, user);
  // A patient account's own Patient may not be stored (yet): the page then names it by id.
  const patient =
    context.patient === undefined ? undefined : ((await findPatient(server.auth.db, context.patient)) ?? { id: context.patient, name: `Patient ${context.patient}` });
  const page = consentPage(frameOf(server), { interaction: interaction.id, clientName: clientName(client), username: user.username, scopes: scope, patient });
  return sendPage(reply, 200, page);
}

async function nextPage(server: OAuthServer, interaction: Interaction, client: Client, user: User, reply: FastifyReply) {
  if (needsPatientChoice(interaction, user)) return showPatientChooser(server, interaction, client, reply);
  return showConsent(server, interaction, client, user, reply);
}

async function logIn(server: OAuthServer, interaction: Interaction, client: Client, form: URLSearchParams, reply: FastifyReply) {
  const username = form.get('username') ?? '';
  const password = form.get('password') ?? '';
  const address = reply.request.ip;
  const page = (error: string, status = 200) =>
    sendPage(reply, status, loginPage(frameOf(server), { interaction: interaction.id, clientName: clientName(client), username, error }));
  const requester = { clientId: client.clientId, username, address };
  // Too many failures for this account or address: no password is even checked.
  const verdict = await server.auth.throttle.check(username, address);
  if (!verdict.allowed) {
    server.auth.recordAuthentication(authenticationEvent({ action: 'login-throttled', requester, status: 429 }));
    const minutes = Math.ceil(verdict.retryAfterSeconds / 60);
    reply.header('retry-after', String(verdict.retryAfterSeconds));
    return page(`Too many failed sign-ins. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`, 429);
  }
  const user = username && password ? await server.auth.users.authenticate(username, password) : undefined;
  if (!user) {
    await server.auth.throttle.recordFailure(username, address);
    server.auth.recordAuthentication(authenticationEvent({ action: 'failed-login', requester, status: 401 }));
    // One message for a wrong password, an unknown name and an inactive account: it tells nobody which.
    return page('The username or password is not correct, or the account is not active.');
  }
  await server.auth.throttle.recordSuccess(username, address);
  server.auth.recordAuthentication(authenticationEvent({ action: 'login', requester, status: 200, user: user.fhirUser }));
  await server.interactions.setUser(interaction.id, user.id);
  return nextPage(server, { ...interaction, userId: user.id }, client, user, reply);
}

async function choosePatient(server: OAuthServer, interaction: Interaction, client: Client, user: User, form: URLSearchParams, reply: FastifyReply) {
  const chosen = form.get('patient');
  if (chosen === null) return showPatientChooser(server, interaction, client, reply, form.get('name') || undefined);
  const patient = await findPatient(server.auth.db, chosen);
  if (!patient) return showPatientChooser(server, interaction, client, reply, undefined, 'Choose a patient from the list.');
  await server.interactions.setPatient(interaction.id, patient.id);
  return showConsent(server, { ...interaction, patient: patient.id }, client, user, reply);
}

async function decide(server: OAuthServer, interaction: Interaction, client: Client, user: User, form: URLSearchParams, reply: FastifyReply) {
  const { request } = interaction;
  if (!form.has('approve') && !form.has('deny')) return showConsent(server, interaction, client, user, reply);
  // Removing the interaction first makes a double submit issue one answer only.
  if (!(await server.interactions.remove(interaction.id))) return sendError(reply, server, 'Already answered', 'This request has already been answered.');
  reply.header('set-cookie', cookieHeader(server, '', 0));
  if (form.has('deny')) return redirectTo(reply, request.redirectUri, { error: 'access_denied', error_description: 'The user denied access', state: request.state });
  const { scope, context } = grantFor(interaction, user);
  const code = await server.codes.create({
    clientId: client.clientId,
    userId: user.id,
    redirectUri: request.redirectUri,
    scope: scope.join(' '),
    codeChallenge: request.codeChallenge,
    context,
  });
  return redirectTo(reply, request.redirectUri, { code, state: request.state });
}

/** A page's form posted back: the interaction must match the cookie, then each step does its part. */
async function continueInteraction(server: OAuthServer, request: FastifyRequest, form: URLSearchParams, reply: FastifyReply) {
  const id = form.get('interaction') ?? '';
  const cookie = readCookie(request.headers.cookie, COOKIE) ?? '';
  const interaction = id && matchesHash(cookie, sha256(id)) ? await server.interactions.get(id) : undefined;
  const client = interaction && (await server.clients.get(interaction.request.clientId));
  if (!interaction || !client) {
    return sendError(reply, server, 'Sign-in expired', 'This sign-in page is no longer valid: it expired, was already used, or was opened in another browser.');
  }
  if (!interaction.userId) return logIn(server, interaction, client, form, reply);
  const user = await server.auth.users.get(interaction.userId);
  if (!user?.active) return sendError(reply, server, 'Account not active', 'The account you signed in with is no longer active.');
  if (needsPatientChoice(interaction, user)) return choosePatient(server, interaction, client, user, form, reply);
  return decide(server, interaction, client, user, form, reply);
}

/** /oauth/authorize: the authorization code flow's front channel and its pages. */
export function authorizeRoutes(app: FastifyInstance, server: OAuthServer): void {
  // No HEAD: a HEAD request (a link checker, a prefetch) must not start an interaction or use up a launch.
  app.get('/oauth/authorize', { exposeHeadRoute: false }, async (request, reply) => {
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
    return startAuthorization(server, new URLSearchParams(query), reply);
  });
  app.post('/oauth/authorize', async (request, reply) => {
    const form = formBody(request.body);
    if (form.has('interaction')) return continueInteraction(server, request, form, reply);
    return startAuthorization(server, form, reply);
  });
}
