import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JSONWebKeySet, type ProtectedHeaderParameters } from 'jose';
import type { Database } from '../../store/index.js';
import { oauthErrors } from '../auth-errors.js';
import type { Client } from './clients.js';
import { fetchJson } from './outbound.js';

/** RFC 7523 §2.2. */
export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** SMART Backend Services: the server supports RS384 and ES384; nothing else (no `none`, no HMAC) is accepted. */
export const ASSERTION_ALGS = ['RS384', 'ES384'];
/** An assertion may not be valid for more than five minutes ahead (SMART Backend Services). */
const MAX_AHEAD_SECONDS = 300;
/** Clock skew allowed on exp; a jti is remembered for as long as its assertion could still pass. */
const CLOCK_TOLERANCE_SECONDS = 30;

export interface AssertionContext {
  db: Database;
  /** The `aud` an assertion must name: our token endpoint URL. */
  tokenEndpoint: string;
  allowPrivateCallbacks: boolean;
}

/** The client an assertion claims to come from (`iss`), read before verification only to find its keys. */
export function assertionIssuer(assertion: string): string | undefined {
  try {
    const { iss } = decodeJwt(assertion);
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

function protectedHeader(assertion: string): ProtectedHeaderParameters {
  try {
    return decodeProtectedHeader(assertion);
  } catch {
    throw oauthErrors.invalidClient('The client assertion is not a signed JWT');
  }
}

async function clientKeys(client: Client, context: AssertionContext): Promise<JSONWebKeySet> {
  if (client.jwks) return client.jwks;
  if (!client.jwksUri) throw oauthErrors.invalidClient('The client has no registered keys');
  try {
    const document = (await fetchJson(client.jwksUri, { allowPrivate: context.allowPrivateCallbacks, timeoutMs: 5000, maxBytes: 256 * 1024 })) as JSONWebKeySet;
    if (!Array.isArray(document?.keys)) throw new Error('not a JWK Set');
    return document;
  } catch {
    throw oauthErrors.invalidClient("The client's jwks_uri could not be read");
  }
}

function verificationFailure(error: unknown): Error {
  if (error instanceof joseErrors.JWKSNoMatchingKey) return oauthErrors.invalidClient("No registered key of the client matches the assertion's kid");
  if (error instanceof joseErrors.JWTExpired) return oauthErrors.invalidClient('The client assertion has expired');
  if (error instanceof joseErrors.JWTClaimValidationFailed) return oauthErrors.invalidClient(`The client assertion's "${error.claim}" claim is not valid`);
  return oauthErrors.invalidClient('The client assertion signature is not valid');
}

/** A jti is accepted once; it is remembered until the assertion it came in has expired. */
async function rememberJti(context: AssertionContext, client: Client, jti: string, exp: number): Promise<void> {
  await context.db.query('DELETE FROM auth_assertion_jti WHERE expires < now()');
  const { rowCount } = await context.db.query(
    'INSERT INTO auth_assertion_jti (jti, client_id, expires) VALUES ($1, $2, to_timestamp($3)) ON CONFLICT DO NOTHING',
    [jti, client.clientId, exp + CLOCK_TOLERANCE_SECONDS],
  );
  if (rowCount === 0) throw oauthErrors.invalidClient('The client assertion has been used before (jti)');
}

/**
 * Verifies a private_key_jwt client assertion (RFC 7523, SMART Backend Services): an allowed
 * algorithm, a registered key named by `kid`, iss = sub = client_id, aud = our token endpoint, an
 * exp no more than five minutes ahead, and a jti never seen before.
 */
export async function verifyClientAssertion(assertion: string, client: Client, context: AssertionContext): Promise<void> {
  const header = protectedHeader(assertion);
  if (!header.alg || !ASSERTION_ALGS.includes(header.alg)) {
    throw oauthErrors.invalidClient(`Client assertions must be signed with ${ASSERTION_ALGS.join(' or ')}, not "${header.alg ?? ''}"`);
  }
  if (!header.kid) throw oauthErrors.invalidClient('The client assertion header has no kid');
  if (header.jku !== undefined && header.jku !== client.jwksUri) throw oauthErrors.invalidClient("The assertion's jku is not the client's registered jwks_uri");
  const keys = createLocalJWKSet(await clientKeys(client, context));
  const payload = await jwtVerify(assertion, keys, {
    algorithms: ASSERTION_ALGS,
    issuer: client.clientId,
    subject: client.clientId,
    audience: context.tokenEndpoint,
    requiredClaims: ['exp', 'jti'],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
  }).then(
    (result) => result.payload,
    (error: unknown) => {
      throw verificationFailure(error);
    },
  );
  const exp = payload.exp as number;
  if (exp > Math.floor(Date.now() / 1000) + MAX_AHEAD_SECONDS) throw oauthErrors.invalidClient('The client assertion expires more than five minutes ahead');
  await rememberJti(context, client, payload.jti as string, exp);
}
