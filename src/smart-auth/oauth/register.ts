import type { FastifyInstance } from 'fastify';
import type { JWK } from 'jose';
import { oauthErrors } from '../auth-errors.js';
import { compilePolicy } from '../policy.js';
import { splitScopes } from '../scopes.js';
import { bearerClaims } from './bearer.js';
import { AUTH_METHODS, GRANT_TYPES, type AuthMethod, type Client, type GrantType, type NewClient } from './clients.js';
import type { OAuthServer } from './context.js';
import { isKnownScope } from './granted-scopes.js';

/** What a client registered without `scope` may ask for: an app the usual SMART launch scopes, read-only; a service system/ reads. */
const DEFAULT_APP_SCOPE = 'openid fhirUser launch launch/patient launch/encounter offline_access online_access patient/*.rs user/*.rs';
const DEFAULT_SERVICE_SCOPE = 'system/*.rs';
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

type Metadata = Record<string, unknown>;

const invalid = (description: string) => oauthErrors.invalidClientMetadata(description);

function stringArray(value: unknown, name: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw invalid(`${name} must be an array of strings`);
  return value;
}

function optionalString(metadata: Metadata, name: string): string | undefined {
  const value = metadata[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw invalid(`${name} must be a non-empty string`);
  return value;
}

/** https, or http to this machine for development (RFC 8252 §7.3 loopback redirects); exact, without a fragment. */
function checkRedirectUri(uri: string): void {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw oauthErrors.invalidRedirectUri(`"${uri}" is not an absolute URL`);
  }
  if (url.hash || uri.includes('#')) throw oauthErrors.invalidRedirectUri(`"${uri}" has a fragment`);
  const loopbackHttp = url.protocol === 'http:' && LOOPBACK_HOSTS.includes(url.hostname);
  if (url.protocol !== 'https:' && !loopbackHttp) throw oauthErrors.invalidRedirectUri(`"${uri}" must be https (or http on localhost)`);
}

function authMethod(metadata: Metadata): AuthMethod {
  const method = optionalString(metadata, 'token_endpoint_auth_method') ?? 'client_secret_basic';
  if (!(AUTH_METHODS as readonly string[]).includes(method)) throw invalid(`token_endpoint_auth_method must be one of ${AUTH_METHODS.join(', ')}`);
  return method as AuthMethod;
}

function grantTypes(metadata: Metadata, method: AuthMethod): GrantType[] {
  const grants = stringArray(metadata.grant_types, 'grant_types') ?? ['authorization_code'];
  const unknown = grants.filter((grant) => !(GRANT_TYPES as readonly string[]).includes(grant));
  if (grants.length === 0 || unknown.length) throw invalid(`grant_types must be among ${GRANT_TYPES.join(', ')}`);
  if (grants.includes('client_credentials') && method === 'none') throw invalid('client_credentials needs a confidential client');
  const responseTypes = stringArray(metadata.response_types, 'response_types');
  if (responseTypes?.some((type) => type !== 'code')) throw invalid('response_types may only be ["code"]');
  return [...new Set(grants)] as GrantType[];
}

function redirectUris(metadata: Metadata, grants: GrantType[]): string[] {
  const uris = stringArray(metadata.redirect_uris, 'redirect_uris') ?? [];
  if (grants.includes('authorization_code') && uris.length === 0) throw oauthErrors.invalidRedirectUri('redirect_uris are required for authorization_code');
  uris.forEach(checkRedirectUri);
  return uris;
}

function publicKeySet(value: unknown): { keys: JWK[] } {
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw invalid('jwks must be a JWK Set with at least one key');
  for (const key of keys as JWK[]) {
    if (typeof key !== 'object' || key === null || typeof key.kty !== 'string') throw invalid('every key of jwks needs a kty');
    if (typeof key.kid !== 'string') throw invalid('every key of jwks needs a kid (client assertions name their key)');
    if ('d' in key) throw invalid('jwks must hold public keys only');
  }
  return { keys: keys as JWK[] };
}

function jwksUri(value: string, allowPrivateCallbacks: boolean): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid('jwks_uri is not an absolute URL');
  }
  if (url.protocol !== 'https:' && !(allowPrivateCallbacks && url.protocol === 'http:')) throw invalid('jwks_uri must be https');
  return value;
}

/** private_key_jwt needs exactly one of jwks and jwks_uri (RFC 7591 §2); other methods use neither. */
function keys(metadata: Metadata, method: AuthMethod, allowPrivateCallbacks: boolean): Pick<NewClient, 'jwks' | 'jwksUri'> {
  if (method !== 'private_key_jwt') return {};
  const uri = optionalString(metadata, 'jwks_uri');
  if ((metadata.jwks === undefined) === (uri === undefined)) throw invalid('private_key_jwt needs exactly one of jwks and jwks_uri');
  return uri ? { jwksUri: jwksUri(uri, allowPrivateCallbacks) } : { jwks: publicKeySet(metadata.jwks) };
}

function scope(metadata: Metadata, grants: GrantType[]): string {
  const text = optionalString(metadata, 'scope');
  if (text === undefined) return grants.includes('client_credentials') && grants.length === 1 ? DEFAULT_SERVICE_SCOPE : DEFAULT_APP_SCOPE;
  const unknown = splitScopes(text).filter((item) => !isKnownScope(item));
  if (unknown.length) throw invalid(`Unknown scopes: ${unknown.join(' ')}`);
  return splitScopes(text).join(' ');
}

/** RFC 7591 §2 metadata to a client, or invalid_client_metadata / invalid_redirect_uri. */
export function clientFromMetadata(body: unknown, allowPrivateCallbacks: boolean): NewClient {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('The body must be a JSON object of client metadata');
  const metadata = body as Metadata;
  const method = authMethod(metadata);
  const grants = grantTypes(metadata, method);
  return {
    clientName: optionalString(metadata, 'client_name'),
    authMethod: method,
    grantTypes: grants,
    redirectUris: redirectUris(metadata, grants),
    scope: scope(metadata, grants),
    ...keys(metadata, method, allowPrivateCallbacks),
  };
}

/** RFC 7591 §3.2.1: the registered metadata, with the client's credentials. */
function registrationResponse(client: Client, secret: string | undefined): Record<string, unknown> {
  return {
    client_id: client.clientId,
    ...(secret !== undefined && { client_secret: secret, client_secret_expires_at: 0 }),
    client_id_issued_at: Math.floor(client.created.getTime() / 1000),
    ...(client.clientName !== undefined && { client_name: client.clientName }),
    redirect_uris: client.redirectUris,
    grant_types: client.grantTypes,
    ...(client.grantTypes.includes('authorization_code') && { response_types: ['code'] }),
    token_endpoint_auth_method: client.authMethod,
    scope: client.scope,
    ...(client.jwks && { jwks: client.jwks }),
    ...(client.jwksUri && { jwks_uri: client.jwksUri }),
  };
}

/** POST /oauth/register (RFC 7591): an administrator's token (`admin` scope) registers a client. */
export function registerRoutes(app: FastifyInstance, server: OAuthServer): void {
  app.post('/oauth/register', async (request, reply) => {
    const claims = await bearerClaims(request, server.auth);
    if (!compilePolicy(claims).admin) throw oauthErrors.insufficientScope('admin');
    const { client, secret } = await server.clients.register(clientFromMetadata(request.body, server.allowPrivateCallbacks));
    return reply.code(201).send(registrationResponse(client, secret));
  });
}
