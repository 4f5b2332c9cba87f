import { matchesHash } from './secrets.js';

/** RFC 7636 §4.1–4.2: 43–128 characters of the unreserved set; an S256 challenge is 43 base64url characters. */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
const S256_CHALLENGE = /^[A-Za-z0-9\-_]{43}$/;

export function isS256Challenge(challenge: string): boolean {
  return S256_CHALLENGE.test(challenge);
}

/** Whether the verifier hashes (S256) to the challenge; `plain` is never accepted (SMART App Launch 2). */
export function verifierMatches(verifier: string, challenge: string): boolean {
  if (!VERIFIER.test(verifier)) return false;
  return matchesHash(verifier, challenge);
}
