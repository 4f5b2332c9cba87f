import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, exportJWK, generateKeyPair, importJWK, type JWK, type JWTVerifyGetKey, type KeyObject } from 'jose';
import type { Database } from '../store/index.js';

/** Access tokens and id_tokens are signed RS256 (OpenID Connect's required algorithm). */
export const SIGNING_ALG = 'RS256';
/** A signing key signs for this long; then a new one takes over and the old one only verifies. */
const ROTATE_AFTER_MS = 30 * 24 * 3600 * 1000;
/** Retired keys are published and verify until every token they signed has expired. */
const KEEP_KEYS = 3;
const KEY_LOCK = 7_254_004;

interface KeyRow {
  kid: string;
  private_jwk: JWK;
  public_jwk: JWK;
  created: Date;
}

/**
 * The server's signing keys, kept in PostgreSQL so that every process signs and verifies with the
 * same set. Rotation without downtime: a new key is added and becomes the signer; older keys stay
 * published (JWKS) and keep verifying; a process that meets an unknown `kid` reloads the set once.
 */
export class SigningKeys {
  private signer?: { kid: string; key: KeyObject | Uint8Array };
  private published: JWK[] = [];
  private keySet?: JWTVerifyGetKey;

  constructor(private readonly db: Database) {}

  /** Loads the keys, creating the first one (or the next one, when the newest is old) under a lock. */
  async start(): Promise<void> {
    const rows = await this.rows();
    if (rows.length === 0 || Date.now() - rows[0].created.getTime() > ROTATE_AFTER_MS) await this.rotate();
    else await this.load(rows);
  }

  /** Adds a new signing key and retires the oldest beyond the ones kept; one process at a time. */
  async rotate(): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [KEY_LOCK]);
      const { rows } = await tx.query<{ created: Date }>('SELECT created FROM auth_signing_key ORDER BY created DESC LIMIT 1');
      // Another process that held the lock first may just have rotated: then its key serves.
      if (rows[0] && Date.now() - rows[0].created.getTime() < 5000) return;
      const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
      const kid = randomUUID();
      await tx.query('INSERT INTO auth_signing_key (kid, alg, private_jwk, public_jwk) VALUES ($1, $2, $3, $4)', [
        kid,
        SIGNING_ALG,
        { ...(await exportJWK(privateKey)), kid, alg: SIGNING_ALG },
        { ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALG, use: 'sig' },
      ]);
      await tx.query(`DELETE FROM auth_signing_key WHERE kid NOT IN (SELECT kid FROM auth_signing_key ORDER BY created DESC LIMIT ${KEEP_KEYS})`);
    });
    await this.load(await this.rows());
  }

  private async rows(): Promise<KeyRow[]> {
    const { rows } = await this.db.query<KeyRow>('SELECT kid, private_jwk, public_jwk, created FROM auth_signing_key ORDER BY created DESC');
    return rows;
  }

  private async load(rows: KeyRow[]): Promise<void> {
    const newest = rows[0];
    this.signer = { kid: newest.kid, key: await importJWK(newest.private_jwk, SIGNING_ALG) };
    this.published = rows.map((row) => row.public_jwk);
    this.keySet = createLocalJWKSet({ keys: this.published });
  }

  signingKey(): { kid: string; key: KeyObject | Uint8Array } {
    if (!this.signer) throw new Error('signing keys not loaded');
    return this.signer;
  }

  jwks(): { keys: JWK[] } {
    return { keys: this.published };
  }

  /** The verification key set; reloads once when a token names a key this process has not seen (rotated elsewhere). */
  verificationKeys(): JWTVerifyGetKey {
    return async (header, token) => {
      if (header.kid && !this.published.some((key) => key.kid === header.kid)) await this.load(await this.rows());
      return (this.keySet as JWTVerifyGetKey)(header, token);
    };
  }
}
