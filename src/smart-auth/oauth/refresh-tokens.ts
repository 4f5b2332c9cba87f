import type { Database, Queryable } from '../../store/index.js';
import type { AccessTokens } from '../access-token.js';
import type { GrantContext } from './codes.js';
import { randomSecret, sha256 } from './secrets.js';

/** `offline_access` outlives the session; `online_access` lasts about a working day. Each rotation renews the period. */
const OFFLINE_SECONDS = 90 * 24 * 3600;
const ONLINE_SECONDS = 8 * 3600;

export interface RefreshGrant {
  clientId: string;
  /** Refresh tokens come only from the authorization code grant: always a user's. */
  userId: string;
  /** The scope of the original grant; every token of the family keeps it (RFC 6749 §6). */
  scope: string;
  context: GrantContext;
  offline: boolean;
}

interface RefreshRow {
  token_hash: string;
  family_id: string;
  client_id: string;
  user_id: string;
  scope: string;
  context: GrantContext;
  offline: boolean;
  status: 'active' | 'rotated' | 'revoked';
  expires: Date;
  created: Date;
}

export interface ActiveRefreshToken {
  grant: RefreshGrant;
  family: string;
  issued: Date;
  expires: Date;
}

export type Rotation =
  | { outcome: 'rotated'; grant: RefreshGrant; next: string }
  | { outcome: 'invalid'; reason: string };

const toGrant = (row: RefreshRow): RefreshGrant => ({
  clientId: row.client_id,
  userId: row.user_id,
  scope: row.scope,
  context: row.context,
  offline: row.offline,
});

/**
 * Opaque refresh tokens, kept as hashes. Each use rotates the token: the presented one is marked
 * rotated and the next of its family is issued. Presenting a rotated token again means two parties
 * hold the family (one of them stole it): the whole family and its access tokens are revoked.
 */
export class RefreshTokens {
  constructor(
    private readonly db: Database,
    private readonly accessTokens: AccessTokens,
  ) {}

  private async insert(db: Queryable, grant: RefreshGrant, family: string, access?: { jti: string; exp: number }): Promise<string> {
    const token = randomSecret();
    await db.query(
      `INSERT INTO auth_refresh_token (token_hash, family_id, client_id, user_id, scope, context, offline, status, expires, access_jti, access_expires)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', now() + make_interval(secs => $8), $9, to_timestamp($10))`,
      [
        sha256(token),
        family,
        grant.clientId,
        grant.userId,
        grant.scope,
        grant.context,
        grant.offline,
        grant.offline ? OFFLINE_SECONDS : ONLINE_SECONDS,
        access?.jti ?? null,
        access?.exp ?? null,
      ],
    );
    return token;
  }

  /** The first token of a family, issued with the access token `access`. */
  async issue(grant: RefreshGrant, family: string, access: { jti: string; exp: number }): Promise<string> {
    // Expired tokens can do nothing any more; dropping them here spares a separate clean-up job.
    await this.db.query(`DELETE FROM auth_refresh_token WHERE expires < now() - interval '1 day'`);
    return this.insert(this.db, grant, family, access);
  }

  /** Uses a refresh token: the next one of its family, or why not (a replay revokes the family). */
  async rotate(token: string, clientId: string): Promise<Rotation> {
    const result = await this.db.transaction(async (tx): Promise<Rotation | { outcome: 'replayed'; family: string }> => {
      const { rows } = await tx.query<RefreshRow>('SELECT * FROM auth_refresh_token WHERE token_hash = $1 FOR UPDATE', [sha256(token)]);
      const row = rows[0];
      if (!row || row.client_id !== clientId) return { outcome: 'invalid', reason: 'The refresh token is not valid for this client' };
      if (row.status === 'rotated') return { outcome: 'replayed', family: row.family_id };
      if (row.status === 'revoked') return { outcome: 'invalid', reason: 'The refresh token has been revoked' };
      if (row.expires.getTime() < Date.now()) return { outcome: 'invalid', reason: 'The refresh token has expired' };
      await tx.query(`UPDATE auth_refresh_token SET status = 'rotated' WHERE token_hash = $1`, [row.token_hash]);
      const grant = toGrant(row);
      return { outcome: 'rotated', grant, next: await this.insert(tx, grant, row.family_id) };
    });
    if (result.outcome !== 'replayed') return result;
    await this.revokeFamily(result.family);
    return { outcome: 'invalid', reason: 'The refresh token was already used: its whole family is revoked' };
  }

  /**
   * Records the access token issued with a rotated token. If the family was revoked meanwhile (a
   * replay raced this refresh), that access token is revoked as well.
   */
  async recordAccessToken(token: string, access: { jti: string; exp: number }): Promise<void> {
    const { rows } = await this.db.query<{ status: string }>(
      'UPDATE auth_refresh_token SET access_jti = $2, access_expires = to_timestamp($3) WHERE token_hash = $1 RETURNING status',
      [sha256(token), access.jti, access.exp],
    );
    if (rows[0]?.status === 'revoked') await this.accessTokens.revoke(access);
  }

  /** The token, when it is active (introspection). */
  async active(token: string): Promise<ActiveRefreshToken | undefined> {
    const { rows } = await this.db.query<RefreshRow>(
      `SELECT * FROM auth_refresh_token WHERE token_hash = $1 AND status = 'active' AND expires > now()`,
      [sha256(token)],
    );
    const row = rows[0];
    return row && { grant: toGrant(row), family: row.family_id, issued: row.created, expires: row.expires };
  }

  /** The client a refresh token (of any status) was issued to, if it is one of ours. */
  async owner(token: string): Promise<{ clientId: string; family: string } | undefined> {
    const { rows } = await this.db.query<RefreshRow>('SELECT client_id, family_id FROM auth_refresh_token WHERE token_hash = $1', [sha256(token)]);
    return rows[0] && { clientId: rows[0].client_id, family: rows[0].family_id };
  }

  /** Revokes every token of a family and the access tokens issued with them that have not yet expired. */
  async revokeFamily(family: string): Promise<void> {
    const { rows } = await this.db.query<{ access_jti: string | null; access_expires: Date | null }>(
      `UPDATE auth_refresh_token SET status = 'revoked' WHERE family_id = $1 RETURNING access_jti, access_expires`,
      [family],
    );
    for (const row of rows) {
      if (row.access_jti && row.access_expires && row.access_expires.getTime() > Date.now()) {
        await this.accessTokens.revoke({ jti: row.access_jti, exp: Math.floor(row.access_expires.getTime() / 1000) });
      }
    }
  }
}
