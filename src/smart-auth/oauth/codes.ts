import { randomUUID } from 'node:crypto';
import type { Database } from '../../store/index.js';
import { randomSecret, sha256 } from './secrets.js';

/** Authorization codes live at most 60 seconds (CONTRACT.md). */
const CODE_SECONDS = 60;
/** Used codes are kept a day so that a replay is recognised and what was issued from them revoked. */
const KEEP_USED = '1 day';

/** What a grant carries besides its scopes: the launch context and the OpenID Connect request's nonce. */
export interface GrantContext {
  /** Patient id (not a reference), as in the token response's `patient`. */
  patient?: string;
  encounter?: string;
  /** Standalone launches show a patient banner; inside the EHR it already shows one. */
  needPatientBanner?: boolean;
  nonce?: string;
}

export interface CodeGrant {
  clientId: string;
  userId: string;
  redirectUri: string;
  scope: string;
  codeChallenge: string;
  context: GrantContext;
}

interface CodeRow {
  client_id: string;
  user_id: string;
  redirect_uri: string;
  scope: string;
  code_challenge: string;
  context: GrantContext;
  expires: Date;
  used: boolean;
  refresh_family: string | null;
  access_jti: string | null;
  access_expires: Date | null;
}

/** What a code yielded the first time, to be revoked when it is presented again. */
export interface IssuedFromCode {
  refreshFamily: string;
  accessJti?: string;
  accessExpires?: Date;
}

export type Redemption =
  | { outcome: 'redeemed'; grant: CodeGrant; refreshFamily: string }
  | { outcome: 'unknown' }
  | { outcome: 'expired' }
  | { outcome: 'reused'; issued: IssuedFromCode };

const toGrant = (row: CodeRow): CodeGrant => ({
  clientId: row.client_id,
  userId: row.user_id,
  redirectUri: row.redirect_uri,
  scope: row.scope,
  codeChallenge: row.code_challenge,
  context: row.context,
});

/** Single-use authorization codes, kept as hashes. */
export class AuthorizationCodes {
  constructor(private readonly db: Database) {}

  async create(grant: CodeGrant): Promise<string> {
    const code = randomSecret();
    await this.db.query(`DELETE FROM auth_code WHERE expires < now() - interval '${KEEP_USED}'`);
    await this.db.query(
      `INSERT INTO auth_code (code_hash, client_id, user_id, redirect_uri, scope, code_challenge, context, expires)
       VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))`,
      [sha256(code), grant.clientId, grant.userId, grant.redirectUri, grant.scope, grant.codeChallenge, grant.context, CODE_SECONDS],
    );
    return code;
  }

  /**
   * Uses a code up, whatever follows: the first presentation consumes it (a failed exchange too, so
   * that a stolen code cannot be retried), and every later one is a replay.
   */
  async redeem(code: string): Promise<Redemption> {
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query<CodeRow>('SELECT * FROM auth_code WHERE code_hash = $1 FOR UPDATE', [sha256(code)]);
      const row = rows[0];
      if (!row) return { outcome: 'unknown' };
      if (row.used) {
        await tx.query('UPDATE auth_code SET reused = true WHERE code_hash = $1', [sha256(code)]);
        return {
          outcome: 'reused',
          issued: { refreshFamily: row.refresh_family as string, accessJti: row.access_jti ?? undefined, accessExpires: row.access_expires ?? undefined },
        };
      }
      const refreshFamily = randomUUID();
      await tx.query('UPDATE auth_code SET used = true, refresh_family = $2 WHERE code_hash = $1', [sha256(code), refreshFamily]);
      if (row.expires.getTime() < Date.now()) return { outcome: 'expired' };
      return { outcome: 'redeemed', grant: toGrant(row), refreshFamily };
    });
  }

  /**
   * Records the access token issued from a code. Answers whether the code was replayed meanwhile:
   * then the caller revokes this token too.
   */
  async recordAccessToken(code: string, jti: string, exp: number): Promise<{ reused: boolean }> {
    const { rows } = await this.db.query<{ reused: boolean }>(
      'UPDATE auth_code SET access_jti = $2, access_expires = to_timestamp($3) WHERE code_hash = $1 RETURNING reused',
      [sha256(code), jti, exp],
    );
    return { reused: rows[0]?.reused ?? false };
  }
}
