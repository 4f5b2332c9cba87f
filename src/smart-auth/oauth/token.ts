import type { FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import { ACCESS_TOKEN_SECONDS, type NewAccessClaims } from '../access-token.js';
import { oauthErrors } from '../auth-errors.js';
import { splitScopes } from '../scopes.js';
import type { User } from '../users.js';
import { authenticateClient } from './client-auth.js';
import { isConfidential, type Client } from './clients.js';
import type { GrantContext, IssuedFromCode } from './codes.js';
import type { OAuthServer } from './context.js';
import { formBody, required, singleValued, type OAuthParams } from './form.js';
import { boundByRole, notCoveredBy, refuseUnsearchableScopes } from './granted-scopes.js';
import { fhirUserClaim, issueIdToken } from './id-token.js';
import { verifierMatches } from './pkce.js';

/** The token response (RFC 6749 §5.1) with SMART's launch context fields. */
interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  patient?: string;
  encounter?: string;
  fhirContext?: { reference: string }[];
  need_patient_banner?: boolean;
  smart_style_url?: string;
  id_token?: string;
  refresh_token?: string;
}

interface IssuedAccess {
  jti: string;
  exp: number;
}

async function activeUser(server: OAuthServer, userId: string): Promise<User> {
  const user = await server.auth.users.get(userId);
  if (!user?.active) throw oauthErrors.invalidGrant('The user account is not active');
  return user;
}

/** A user's access token and the response around it: launch context, style, and id_token for `openid`. */
async function userTokenResponse(
  server: OAuthServer,
  client: Client,
  user: User,
  scope: string[],
  context: GrantContext,
  nonce: string | undefined,
): Promise<{ response: TokenResponse; access: IssuedAccess }> {
  const claims: NewAccessClaims = {
    sub: user.id,
    client_id: client.clientId,
    scope: scope.join(' '),
    role: user.role,
    fhirUser: user.fhirUser,
    ...(context.patient && { patient: context.patient }),
    ...(context.encounter && { encounter: context.encounter }),
  };
  const accessToken = await server.auth.tokens.issue(claims);
  const { jti, exp } = decodeJwt(accessToken) as IssuedAccess;
  const response: TokenResponse = { access_token: accessToken, token_type: 'Bearer', expires_in: ACCESS_TOKEN_SECONDS, scope: claims.scope };
  if (context.patient) {
    response.patient = context.patient;
    response.need_patient_banner = context.needPatientBanner ?? false;
  }
  if (context.encounter) {
    response.encounter = context.encounter;
    response.fhirContext = [{ reference: `Encounter/${context.encounter}` }];
  }
  response.smart_style_url = server.endpoints.smartStyle;
  if (scope.includes('openid')) {
    const fhirUser = fhirUserClaim(server.fhirBaseUrl, scope, user.fhirUser);
    response.id_token = await issueIdToken(server.auth, { userId: user.id, clientId: client.clientId, fhirUser, nonce });
  }
  return { response, access: { jti, exp } };
}

/** Takes back what a replayed code had yielded (RFC 6749 §4.1.2). */
async function revokeIssued(server: OAuthServer, issued: IssuedFromCode): Promise<void> {
  await server.refreshTokens.revokeFamily(issued.refreshFamily);
  if (issued.accessJti && issued.accessExpires && issued.accessExpires.getTime() > Date.now()) {
    await server.auth.tokens.revoke({ jti: issued.accessJti, exp: Math.floor(issued.accessExpires.getTime() / 1000) });
  }
}

async function authorizationCodeGrant(server: OAuthServer, client: Client, params: OAuthParams): Promise<TokenResponse> {
  if (!client.grantTypes.includes('authorization_code')) throw oauthErrors.unauthorizedClient('This client is not registered for authorization_code');
  const code = required(params, 'code');
  const redirectUri = required(params, 'redirect_uri');
  const verifier = required(params, 'code_verifier');
  const redemption = await server.codes.redeem(code);
  if (redemption.outcome === 'unknown') throw oauthErrors.invalidGrant('The authorization code is not valid');
  if (redemption.outcome === 'expired') throw oauthErrors.invalidGrant('The authorization code has expired');
  if (redemption.outcome === 'reused') {
    await revokeIssued(server, redemption.issued);
    throw oauthErrors.invalidGrant('The authorization code was already used; the tokens issued from it are revoked');
  }
  const { grant, refreshFamily } = redemption;
  if (grant.clientId !== client.clientId) throw oauthErrors.invalidGrant('The authorization code was issued to another client');
  if (grant.redirectUri !== redirectUri) throw oauthErrors.invalidGrant('redirect_uri does not match the authorization request');
  if (!verifierMatches(verifier, grant.codeChallenge)) throw oauthErrors.invalidGrant('code_verifier does not match the code_challenge');

  const user = await activeUser(server, grant.userId);
  const scope = splitScopes(grant.scope);
  const { response, access } = await userTokenResponse(server, client, user, scope, grant.context, grant.context.nonce);
  if (scope.includes('offline_access') || scope.includes('online_access')) {
    const refreshGrant = { clientId: client.clientId, userId: user.id, scope: grant.scope, context: grant.context, offline: scope.includes('offline_access') };
    response.refresh_token = await server.refreshTokens.issue(refreshGrant, refreshFamily, access);
  }
  const { reused } = await server.codes.recordAccessToken(code, access.jti, access.exp);
  if (reused) {
    await revokeIssued(server, { refreshFamily, accessJti: access.jti, accessExpires: new Date(access.exp * 1000) });
    throw oauthErrors.invalidGrant('The authorization code was used twice at once; the tokens issued from it are revoked');
  }
  return response;
}

async function refreshTokenGrant(server: OAuthServer, client: Client, params: OAuthParams): Promise<TokenResponse> {
  const token = required(params, 'refresh_token');
  const requested = params.scope === undefined ? undefined : splitScopes(params.scope);
  // The scope is checked before the token rotates, so that a refused request leaves the client its token.
  const current = await server.refreshTokens.active(token);
  if (requested && current?.grant.clientId === client.clientId) {
    const wider = notCoveredBy(current.grant.scope, requested);
    if (wider.length) throw oauthErrors.invalidScope(`A refresh may narrow the scope but not widen it: ${wider.join(' ')}`);
  }
  const rotation = await server.refreshTokens.rotate(token, client.clientId);
  if (rotation.outcome === 'invalid') throw oauthErrors.invalidGrant(rotation.reason);
  const { grant, next } = rotation;
  const user = await activeUser(server, grant.userId);
  const scope = boundByRole(user.role, requested ?? splitScopes(grant.scope));
  const { response, access } = await userTokenResponse(server, client, user, scope, grant.context, undefined);
  await server.refreshTokens.recordAccessToken(next, access);
  response.refresh_token = next;
  return response;
}

/** SMART Backend Services: a confidential client acting for itself, with system/ scopes (and `admin` if registered). */
async function clientCredentialsGrant(server: OAuthServer, client: Client, params: OAuthParams): Promise<TokenResponse> {
  if (!isConfidential(client)) throw oauthErrors.unauthorizedClient('A public client cannot use client_credentials');
  if (!client.grantTypes.includes('client_credentials')) throw oauthErrors.unauthorizedClient('This client is not registered for client_credentials');
  const requested = splitScopes(params.scope);
  if (requested.length === 0) throw oauthErrors.invalidScope('A scope is required');
  const notSystem = requested.filter((scope) => scope !== 'admin' && !scope.startsWith('system/'));
  if (notSystem.length) throw oauthErrors.invalidScope(`A backend service is granted system/ scopes only: ${notSystem.join(' ')}`);
  const refused = notCoveredBy(client.scope, requested);
  if (refused.length) throw oauthErrors.invalidScope(`The client may not be granted: ${refused.join(' ')}`);
  await refuseUnsearchableScopes(requested, server.checkScopeQuery);
  const scope = requested.join(' ');
  const accessToken = await server.auth.tokens.issue({ sub: client.clientId, client_id: client.clientId, scope });
  return { access_token: accessToken, token_type: 'Bearer', expires_in: ACCESS_TOKEN_SECONDS, scope };
}

const GRANTS: Record<string, (server: OAuthServer, client: Client, params: OAuthParams) => Promise<TokenResponse>> = {
  authorization_code: authorizationCodeGrant,
  refresh_token: refreshTokenGrant,
  client_credentials: clientCredentialsGrant,
};

/** POST /oauth/token (RFC 6749 §3.2). */
export function tokenRoutes(app: FastifyInstance, server: OAuthServer): void {
  app.post('/oauth/token', { config: { cors: true } }, async (request) => {
    const params = singleValued(formBody(request.body));
    const grantType = required(params, 'grant_type');
    const client = await authenticateClient(request.headers.authorization, params, server.clientAuth);
    const grant = Object.hasOwn(GRANTS, grantType) ? GRANTS[grantType] : undefined;
    if (!grant) throw oauthErrors.unsupportedGrantType(grantType);
    return grant(server, client, params);
  });
}
