import type { FastifyInstance, FastifyRequest } from 'fastify';
import { oauthErrors } from '../auth-errors.js';
import { splitScopes } from '../scopes.js';
import { bearerClaims, bearerToken } from './bearer.js';
import { authenticateClient } from './client-auth.js';
import { isConfidential } from './clients.js';
import type { OAuthServer } from './context.js';
import { fhirUserClaim } from './id-token.js';
import { formBody, required, singleValued, type OAuthParams } from './form.js';

type Introspection = { active: false } | ({ active: true } & Record<string, unknown>);

/** The caller: a resource server holding a valid access token, or a confidential client (RFC 7662 §2.1). */
async function authorizeCaller(request: FastifyRequest, params: OAuthParams, server: OAuthServer): Promise<void> {
  if (bearerToken(request)) {
    await bearerClaims(request, server.auth);
    return;
  }
  const client = await authenticateClient(request.headers.authorization, params, server.clientAuth);
  if (!isConfidential(client)) throw oauthErrors.invalidClient('Introspection needs a confidential client or a bearer token');
}

async function introspectAccessToken(server: OAuthServer, token: string): Promise<Introspection | undefined> {
  const claims = await server.auth.tokens.inspect(token);
  if (!claims) return undefined;
  const fhirUser = fhirUserClaim(server.fhirBaseUrl, splitScopes(claims.scope), claims.fhirUser);
  return {
    active: true,
    token_type: 'Bearer',
    scope: claims.scope,
    client_id: claims.client_id,
    sub: claims.sub,
    exp: claims.exp,
    iat: claims.iat,
    iss: claims.iss,
    aud: claims.aud,
    ...(claims.patient && { patient: claims.patient }),
    ...(claims.encounter && { encounter: claims.encounter }),
    ...(fhirUser && { fhirUser }),
  };
}

async function introspectRefreshToken(server: OAuthServer, token: string): Promise<Introspection | undefined> {
  const active = await server.refreshTokens.active(token);
  if (!active) return undefined;
  const { grant } = active;
  return {
    active: true,
    token_type: 'refresh_token',
    scope: grant.scope,
    client_id: grant.clientId,
    sub: grant.userId,
    exp: Math.floor(active.expires.getTime() / 1000),
    iat: Math.floor(active.issued.getTime() / 1000),
    iss: server.issuer,
    aud: server.fhirBaseUrl,
    ...(grant.context.patient && { patient: grant.context.patient }),
    ...(grant.context.encounter && { encounter: grant.context.encounter }),
  };
}

/** POST /oauth/introspect (RFC 7662; SMART token-introspection.html): access and refresh tokens alike. */
export function introspectRoutes(app: FastifyInstance, server: OAuthServer): void {
  app.post('/oauth/introspect', { config: { cors: true } }, async (request) => {
    const params = singleValued(formBody(request.body));
    await authorizeCaller(request, params, server);
    const token = required(params, 'token');
    return (await introspectAccessToken(server, token)) ?? (await introspectRefreshToken(server, token)) ?? { active: false };
  });
}
