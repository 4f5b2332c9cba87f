import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { refusedTextOf } from '../store/index.js';
import { OAuthError } from './auth-errors.js';
import type { SmartAuth } from './index.js';
import { compilePolicy } from './policy.js';
import { fhirUserFitsRole, UserAlreadyExists, type Role, type User } from './users.js';

/**
 * `/admin/users` (CONTRACT.md): user accounts, for a bearer token with the `admin` scope.
 *
 *   POST   /admin/users                 {username, password, fhirUser, role} → 201 account
 *   GET    /admin/users?username=x      → 200 [account] or []
 *   GET    /admin/users/{id}            → 200 account
 *   PATCH  /admin/users/{id}            {password?, role?, active?} → 200 account
 *   DELETE /admin/users/{id}            → 204
 *
 * An account is `{id, username, fhirUser, role, active}`: never the password or its hash. These are
 * not FHIR endpoints, so errors take the OAuth form `{"error", "error_description"}` like the other
 * endpoints of the authorization server: 400 invalid_request, 401 invalid_token (with
 * `WWW-Authenticate: Bearer`), 403 insufficient_scope, 404 not_found, 409 conflict,
 * 413/415 invalid_request.
 */
export interface AdminUsersOptions {
  auth: SmartAuth;
}

const ROLES: readonly Role[] = ['patient', 'practitioner', 'admin'];
const MIN_PASSWORD = 8;
/** scrypt takes any length; a bound keeps a huge "password" from being a cheap way to burn CPU. */
const MAX_PASSWORD = 1024;

const adminErrors = {
  invalid: (description: string) => new OAuthError(400, 'invalid_request', description),
  missingToken: () =>
    new OAuthError(401, 'invalid_token', 'This request needs an access token (Authorization: Bearer)', { 'www-authenticate': 'Bearer realm="admin"' }),
  invalidToken: (description: string) =>
    new OAuthError(401, 'invalid_token', description, {
      'www-authenticate': `Bearer realm="admin", error="invalid_token", error_description="${description.replace(/"/g, "'")}"`,
    }),
  notAdmin: () =>
    new OAuthError(403, 'insufficient_scope', 'Managing user accounts needs the admin scope', {
      'www-authenticate': 'Bearer realm="admin", error="insufficient_scope", scope="admin"',
    }),
  notFound: (id: string) => new OAuthError(404, 'not_found', `No user account ${id}`),
  duplicate: (username: string) => new OAuthError(409, 'conflict', `The username "${username}" is taken`),
  notJson: () => new OAuthError(415, 'invalid_request', 'Send the body as application/json'),
};

export async function adminUsersHttp(app: FastifyInstance, { auth }: AdminUsersOptions): Promise<void> {
  app.setErrorHandler(renderError);
  // Before the body is parsed: a caller without the admin scope learns nothing about the body's fate.
  app.addHook('onRequest', async (request) => requireAdmin(auth, request.headers.authorization));
  // Accounts are personal data: no cache keeps them.
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('cache-control', 'no-store');
    return payload;
  });

  app.post('/admin/users', async (request, reply) => {
    const input = parseNewUser(jsonBody(request));
    const user = await auth.users.create(input).catch((error: unknown) => {
      throw error instanceof UserAlreadyExists ? adminErrors.duplicate(input.username) : error;
    });
    return reply.code(201).header('location', `${auth.options.issuer}/admin/users/${user.id}`).send(view(user));
  });

  app.get('/admin/users', async (request) => {
    const user = await auth.users.byUsername(usernameQuery(request.query));
    return user ? [view(user)] : [];
  });

  app.get<{ Params: { id: string } }>('/admin/users/:id', async (request) => view(await existing(auth, request.params.id)));

  app.patch<{ Params: { id: string } }>('/admin/users/:id', async (request) => {
    const changes = parseChanges(jsonBody(request));
    const current = await existing(auth, request.params.id);
    if (changes.role) assertFits(current.fhirUser, changes.role);
    return view((await auth.users.update(current.id, changes)) ?? notFound(current.id));
  });

  app.delete<{ Params: { id: string } }>('/admin/users/:id', async (request, reply) => {
    if (!(await auth.users.remove(request.params.id))) throw adminErrors.notFound(request.params.id);
    return reply.code(204).send();
  });
}

async function requireAdmin(auth: SmartAuth, authorization: string | undefined): Promise<void> {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (!token) throw adminErrors.missingToken();
  const claims = await auth.tokens.verify(token).catch((error: Error) => {
    throw adminErrors.invalidToken(error.message);
  });
  if (!compilePolicy(claims).admin) throw adminErrors.notAdmin();
}

/** The account as the API shows it: named fields only, so nothing else of a row can leak. */
function view(user: User): User {
  return { id: user.id, username: user.username, fhirUser: user.fhirUser, role: user.role, active: user.active };
}

async function existing(auth: SmartAuth, id: string): Promise<User> {
  return (await auth.users.get(id)) ?? notFound(id);
}

function notFound(id: string): never {
  throw adminErrors.notFound(id);
}

function renderError(error: FastifyError | OAuthError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof OAuthError) return reply.code(error.status).headers(error.headers).send(error.toJSON());
  // Fastify's own refusals (malformed JSON, body too large, unsupported media type) are the client's.
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return reply.code(status).send({ error: 'invalid_request', error_description: error.message });
  const refused = refusedTextOf(error);
  if (refused) return reply.code(400).send({ error: 'invalid_request', error_description: refused });
  request.log.error({ err: error }, 'admin request failed');
  return reply.code(500).send({ error: 'server_error', error_description: 'Internal server error' });
}

// ---- Request bodies ----------------------------------------------------------------------------

type Body = Record<string, unknown>;

/** The parsed JSON object of a request that must be application/json. */
function jsonBody(request: FastifyRequest): Body {
  const contentType = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (contentType !== 'application/json') throw adminErrors.notJson();
  const body = request.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw adminErrors.invalid('The body must be a JSON object');
  return body as Body;
}

function parseNewUser(body: Body): { username: string; password: string; fhirUser: string; role: Role } {
  allowOnly(body, ['username', 'password', 'fhirUser', 'role']);
  const username = parseUsername(required(body, 'username'));
  const password = parsePassword(required(body, 'password'));
  const role = parseRole(required(body, 'role'));
  const fhirUser = required(body, 'fhirUser');
  assertFits(fhirUser, role);
  return { username, password, fhirUser, role };
}

function parseChanges(body: Body): { password?: string; role?: Role; active?: boolean } {
  allowOnly(body, ['password', 'role', 'active']);
  const changes: { password?: string; role?: Role; active?: boolean } = {};
  if (body.password !== undefined) changes.password = parsePassword(string(body, 'password'));
  if (body.role !== undefined) changes.role = parseRole(string(body, 'role'));
  if (body.active !== undefined) {
    if (typeof body.active !== 'boolean') throw adminErrors.invalid('"active" must be true or false');
    changes.active = body.active;
  }
  return changes;
}

function allowOnly(body: Body, allowed: string[]): void {
  const unknown = Object.keys(body).filter((name) => !allowed.includes(name));
  if (unknown.length > 0) throw adminErrors.invalid(`Unknown properties: ${unknown.join(', ')} (allowed: ${allowed.join(', ')})`);
}

function required(body: Body, name: string): string {
  if (body[name] === undefined || body[name] === null) throw adminErrors.invalid(`"${name}" is required`);
  return string(body, name);
}

function string(body: Body, name: string): string {
  const value = body[name];
  if (typeof value !== 'string') throw adminErrors.invalid(`"${name}" must be a string`);
  return value;
}

function parseUsername(username: string): string {
  // No spaces or control characters: a username is typed on the login page and shown in logs.
  if (!/^[^\s\p{Cc}]{1,128}$/u.test(username)) throw adminErrors.invalid('"username" must be 1 to 128 characters, without spaces');
  return username;
}

function parsePassword(password: string): string {
  const length = [...password].length;
  if (length < MIN_PASSWORD) throw adminErrors.invalid(`"password" must be at least ${MIN_PASSWORD} characters`);
  if (length > MAX_PASSWORD) throw adminErrors.invalid(`"password" must be at most ${MAX_PASSWORD} characters`);
  return password;
}

function parseRole(role: string): Role {
  if (!ROLES.includes(role as Role)) throw adminErrors.invalid(`"role" must be one of ${ROLES.join(', ')}`);
  return role as Role;
}

const FITTING: Record<Role, string> = {
  patient: 'a Patient (Patient/123)',
  practitioner: 'a Practitioner or PractitionerRole (Practitioner/123)',
  admin: 'a Practitioner, PractitionerRole, Patient, RelatedPerson or Person (Practitioner/123)',
};

function assertFits(fhirUser: string, role: Role): void {
  if (!fhirUserFitsRole(fhirUser, role)) throw adminErrors.invalid(`"fhirUser" "${fhirUser}" does not fit the role ${role}: it must be ${FITTING[role]}`);
}

function usernameQuery(query: unknown): string {
  const username = (query as Record<string, unknown>).username;
  if (typeof username !== 'string' || username === '') throw adminErrors.invalid('Give one "username" query parameter to find an account');
  return username;
}
