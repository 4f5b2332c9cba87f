import { SignJWT } from 'jose';
import type { SmartAuth } from '../index.js';
import { SIGNING_ALG } from '../keys.js';
import { grantsFhirUser } from '../scopes.js';

const ID_TOKEN_SECONDS = 3600;

export interface IdTokenInput {
  userId: string;
  clientId: string;
  /** An absolute URL of the user's FHIR resource, when the `fhirUser` scope was granted. */
  fhirUser?: string;
  nonce?: string;
}

/**
 * The `fhirUser` claim as the id_token carries it, an absolute URL (`{FHIR base}/Practitioner/123`),
 * when the scopes grant it; token introspection reports the same value (SMART token-introspection.html).
 */
export function fhirUserClaim(fhirBaseUrl: string, scopes: string[], fhirUser: string | undefined): string | undefined {
  return fhirUser && grantsFhirUser(scopes) ? `${fhirBaseUrl}/${fhirUser}` : undefined;
}

/** The OpenID Connect id_token (Core §2): RS256, signed with the same published keys as access tokens. */
export function issueIdToken(auth: SmartAuth, input: IdTokenInput): Promise<string> {
  const { kid, key } = auth.keys.signingKey();
  const claims: Record<string, string> = {};
  if (input.fhirUser) claims.fhirUser = input.fhirUser;
  if (input.nonce) claims.nonce = input.nonce;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: 'JWT' })
    .setIssuer(auth.options.issuer)
    .setSubject(input.userId)
    .setAudience(input.clientId)
    .setIssuedAt()
    .setExpirationTime(`${ID_TOKEN_SECONDS}s`)
    .sign(key);
}
