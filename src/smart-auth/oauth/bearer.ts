import type { FastifyRequest } from 'fastify';
import type { AccessClaims } from '../access-token.js';
import { oauthErrors } from '../auth-errors.js';
import type { SmartAuth } from '../index.js';

/** The token of `Authorization: Bearer`, if the request has one. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  return match?.[1];
}

/** The claims of the request's bearer access token; 401 invalid_token (RFC 6750) without a valid one. */
export async function bearerClaims(request: FastifyRequest, auth: SmartAuth): Promise<AccessClaims> {
  const token = bearerToken(request);
  if (!token) throw oauthErrors.invalidToken('This request needs an access token (Authorization: Bearer)');
  const claims = await auth.tokens.inspect(token);
  if (!claims) throw oauthErrors.invalidToken('The access token is not valid, has expired or has been revoked');
  return claims;
}
