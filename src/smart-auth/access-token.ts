import { randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import pg from 'pg';
import type { Database } from '../store/index.js';
import { authErrors } from './auth-errors.js';
import { SIGNING_ALG, type SigningKeys } from './keys.js';

/** Access tokens live briefly (SMART recommends short-lived tokens; refresh tokens renew them). */
export const ACCESS_TOKEN_SECONDS = 3600;
const REVOKED_CHANNEL = 'fhir_revoked_tokens';
const VERIFIED_CACHE_SIZE = 10_000;

/** The claims of our access tokens (JWT, RS256). `scope` is what was granted, space separated. */
export interface AccessClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  scope: string;
  /** The user's role, absent for a backend service (client_credentials). */
  role?: 'patient' | 'practitioner' | 'admin';
  /** The user's FHIR resource (`Practitioner/123`), absent for a backend service. */
  fhirUser?: string;
  /** Launch context granted with the token. */
  patient?: string;
  encounter?: string;
}

export type NewAccessClaims = Omit<AccessClaims, 'iss' | 'aud' | 'exp' | 'iat' | 'jti'>;

/**
 * Issues and verifies access tokens. Revocation (RFC 7009) of a self-contained token is a list of
 * revoked `jti`s: kept in PostgreSQL, mirrored in each process's memory and refreshed on PostgreSQL
 * notifications, so that checking a token costs no query.
 */
export class AccessTokens {
  private revoked = new Set<string>();
  /** Tokens already verified, until they expire: a client sends the same token with every request. */
  private readonly verified = new Map<string, AccessClaims>();
  /**
   * The token verified last: most requests carry the same one as the request before, and comparing
   * two strings is cheaper than hashing a kilobyte of token for the map (1.4% of a read's CPU).
   */
  private last?: { token: string; claims: AccessClaims };
  private listener?: pg.Client;

  constructor(
    private readonly keys: SigningKeys,
    private readonly db: Database,
    /** The token issuer, and the audience: the FHIR base URL. */
    readonly issuer: string,
    readonly audience: string,
  ) {}

  async start(): Promise<void> {
    await this.db.query('DELETE FROM auth_revoked_token WHERE expires < now()');
    await this.reloadRevoked();
    this.listener = new pg.Client({ connectionString: this.db.connectionString });
    this.listener.on('error', () => undefined);
    await this.listener.connect();
    this.listener.on('notification', (message) => {
      if (message.payload) this.revoked.add(message.payload);
    });
    await this.listener.query(`LISTEN ${REVOKED_CHANNEL}`);
  }

  async stop(): Promise<void> {
    await this.listener?.end().catch(() => undefined);
  }

  private async reloadRevoked(): Promise<void> {
    const { rows } = await this.db.query<{ jti: string }>('SELECT jti FROM auth_revoked_token');
    this.revoked = new Set(rows.map((row) => row.jti));
  }

  async issue(claims: NewAccessClaims, seconds = ACCESS_TOKEN_SECONDS): Promise<string> {
    const { kid, key } = this.keys.signingKey();
    return new SignJWT({ ...claims })
      .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: 'at+jwt' })
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setIssuedAt()
      .setExpirationTime(`${seconds}s`)
      .setJti(randomUUID())
      .sign(key);
  }

  /** Verifies signature, issuer, audience and expiry, and that the token was not revoked; 401 otherwise. */
  async verify(token: string): Promise<AccessClaims> {
    const known = token === this.last?.token ? this.last.claims : this.verified.get(token);
    if (known && known.exp * 1000 > Date.now()) {
      if (this.revoked.has(known.jti)) throw authErrors.invalidToken('The access token has been revoked');
      this.last = { token, claims: known };
      return known;
    }
    const claims = await this.verifySignature(token);
    if (this.revoked.has(claims.jti)) throw authErrors.invalidToken('The access token has been revoked');
    this.remember(token, claims);
    return claims;
  }

  private remember(token: string, claims: AccessClaims): void {
    if (this.verified.size >= VERIFIED_CACHE_SIZE) {
      const now = Date.now();
      for (const [key, value] of this.verified) if (value.exp * 1000 <= now) this.verified.delete(key);
      // Still full of live tokens: forget the oldest (Map keeps insertion order).
      if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value as string);
    }
    this.verified.set(token, claims);
  }

  private async verifySignature(token: string): Promise<AccessClaims> {
    let claims: AccessClaims;
    try {
      const { payload } = await jwtVerify(token, this.keys.verificationKeys(), {
        issuer: this.issuer,
        audience: this.audience,
        algorithms: [SIGNING_ALG],
        typ: 'at+jwt',
      });
      claims = payload as unknown as AccessClaims;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw authErrors.invalidToken('The access token has expired');
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'aud') {
        throw authErrors.invalidToken('The access token is not for this server (aud)');
      }
      throw authErrors.invalidToken('The access token is not valid');
    }
    return claims;
  }

  /** Verifies without throwing, for introspection: undefined when the token is not active. */
  async inspect(token: string): Promise<AccessClaims | undefined> {
    try {
      return await this.verify(token);
    } catch {
      return undefined;
    }
  }

  /** Revokes an access token until it would have expired, in every process. */
  async revoke(claims: Pick<AccessClaims, 'jti' | 'exp'>): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('INSERT INTO auth_revoked_token (jti, expires) VALUES ($1, to_timestamp($2)) ON CONFLICT DO NOTHING', [claims.jti, claims.exp]);
      await tx.query('SELECT pg_notify($1, $2)', [REVOKED_CHANNEL, claims.jti]);
    });
    this.revoked.add(claims.jti);
  }
}
