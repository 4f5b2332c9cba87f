import type { FastifyRequest } from 'fastify';
import { authErrors, compilePolicy, type AccessClaims, type AccessPolicy, type SmartAuth } from '../smart-auth/index.js';

/** Requests that need no token: what the server is (the CapabilityStatement, `$versions`); SMART discovery is served outside /fhir's router. */
export function isPublic(method: string, path: string): boolean {
  return (method === 'GET' || method === 'HEAD') && (path === 'metadata' || path === '$versions');
}

/**
 * Who is asking, as the policy compiled from the bearer token (RFC 6750). No token, or a token that
 * is expired, revoked, for another audience or not ours, is a 401 with `WWW-Authenticate`.
 */
export async function accessPolicyOf(request: FastifyRequest, auth: SmartAuth): Promise<AccessPolicy> {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) throw header ? authErrors.invalidToken('The Authorization header is not a Bearer token') : authErrors.missingToken();
  const claims = await auth.tokens.verify(match[1]);
  let policy = compiled.get(claims);
  if (!policy) {
    policy = compilePolicy(claims);
    compiled.set(claims, policy);
  }
  return policy;
}

/** Policies by the verified claims they were compiled from (verified tokens are cached, and so their policies). */
const compiled = new WeakMap<AccessClaims, AccessPolicy>();
