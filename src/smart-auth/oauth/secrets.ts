import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** An unguessable value (256 bits, base64url): codes, refresh tokens, client secrets, launch and interaction ids. */
export function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Secrets are kept only as this hash: they are high-entropy, so a fast hash suffices and a leak of the table reveals none. */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/** Compares a presented secret with a stored hash in constant time. */
export function matchesHash(presented: string, storedHash: string): boolean {
  const actual = Buffer.from(sha256(presented));
  const expected = Buffer.from(storedHash);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
