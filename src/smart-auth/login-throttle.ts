import type { Database, Queryable } from '../store/index.js';

/**
 * Throttles password guessing at the login page, per account and per client address
 * (CONTRACT.md: "Failed logins are throttled regardless" of RATE_LIMIT_PER_MINUTE).
 *
 * Use, around each password check:
 *
 *     const verdict = await throttle.check(username, address);
 *     if (!verdict.allowed) → show "Too many failed sign-ins; try again in verdict.retryAfterSeconds s"
 *                             (do not check the password at all)
 *     const user = await auth.users.authenticate(username, password);
 *     user ? await throttle.recordSuccess(username, address) : await throttle.recordFailure(username, address);
 *
 * Rules (sliding window): an account with `accountLimit` (5) failures in the last `windowSeconds`
 * (15 minutes), or an address with `addressLimit` (20), is refused until enough of those failures
 * have aged out of the window; `retryAfterSeconds` says exactly when. A success clears the
 * account's failures but not the address's (else one account the attacker owns would reset the
 * address's count).
 *
 * Parallel guesses cannot slip past the limit: `check` counts the attempt it allows as pending,
 * atomically with the count (an advisory lock per key), and `recordFailure` / `recordSuccess`
 * settle it. A pending attempt that is never settled (a crash) expires after `pendingSeconds`.
 *
 * The state is the table auth_login_failure and time is PostgreSQL's clock, so every process
 * sharing the database enforces the same limits.
 */
export interface LoginVerdict {
  allowed: boolean;
  /** 0 when allowed; else whole seconds until an attempt would be allowed. */
  retryAfterSeconds: number;
}

export interface LoginThrottleOptions {
  accountLimit: number;
  addressLimit: number;
  windowSeconds: number;
  pendingSeconds: number;
}

export const LOGIN_THROTTLE_DEFAULTS: LoginThrottleOptions = { accountLimit: 5, addressLimit: 20, windowSeconds: 15 * 60, pendingSeconds: 60 };

interface Counted {
  key: string;
  limit: number;
}

const accountKey = (username: string): string => `user:${username}`;
const addressKey = (address: string): string => `addr:${address}`;
/** The row of an attempt allowed by `check` and not yet settled. */
const pendingKey = (key: string): string => `pending:${key}`;

export class LoginThrottle {
  private readonly options: LoginThrottleOptions;

  constructor(
    private readonly db: Database,
    options: Partial<LoginThrottleOptions> = {},
  ) {
    this.options = { ...LOGIN_THROTTLE_DEFAULTS, ...options };
  }

  /** May this attempt go ahead? If so it is counted (pending) until recordFailure or recordSuccess. */
  check(username: string, address: string): Promise<LoginVerdict> {
    const counted: Counted[] = [
      { key: accountKey(username), limit: this.options.accountLimit },
      { key: addressKey(address), limit: this.options.addressLimit },
    ];
    return this.db.transaction(async (tx) => {
      // Serializes checks of the same account or address across processes until commit.
      for (const { key } of counted) await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [key]);
      let retryAfterSeconds = 0;
      for (const entry of counted) retryAfterSeconds = Math.max(retryAfterSeconds, await this.secondsToWait(tx, entry));
      if (retryAfterSeconds > 0) return { allowed: false, retryAfterSeconds };
      await insert(tx, counted.map(({ key }) => pendingKey(key)));
      return { allowed: true, retryAfterSeconds: 0 };
    });
  }

  /** The password was wrong (or the account inactive): the attempt becomes a failure of both keys. */
  async recordFailure(username: string, address: string): Promise<void> {
    const keys = [accountKey(username), addressKey(address)];
    await this.db.transaction(async (tx) => {
      await settlePending(tx, keys);
      await insert(tx, keys);
      // The table holds no more than the window: older rows never count again.
      await tx.query(`DELETE FROM auth_login_failure WHERE at < now() - make_interval(secs => $1::float8)`, [this.options.windowSeconds]);
    });
  }

  /** The password was right: the account's failures are forgiven; the address's are kept. */
  async recordSuccess(username: string, address: string): Promise<void> {
    const account = accountKey(username);
    await this.db.transaction(async (tx) => {
      await settlePending(tx, [account, addressKey(address)]);
      await tx.query('DELETE FROM auth_login_failure WHERE key = $1', [account]);
    });
  }

  /**
   * Seconds until fewer than `limit` failures and pending attempts of this key are live. Each row
   * is live until it expires (its time plus the window, or plus pendingSeconds if pending), so
   * the answer is when the limit-th latest expiry passes.
   */
  private async secondsToWait(db: Queryable, { key, limit }: Counted): Promise<number> {
    const { rows } = await db.query<{ wait: number }>(
      `SELECT ceil(extract(epoch FROM expires - now()))::int AS wait
         FROM (SELECT at + make_interval(secs => CASE WHEN key = $1 THEN $3::float8 ELSE $4::float8 END) AS expires
                 FROM auth_login_failure WHERE key IN ($1, $2)) AS live
        WHERE expires > now()
        ORDER BY expires DESC OFFSET $5 LIMIT 1`,
      [key, pendingKey(key), this.options.windowSeconds, this.options.pendingSeconds, limit - 1],
    );
    return rows[0]?.wait ?? 0;
  }
}

async function insert(db: Queryable, keys: string[]): Promise<void> {
  await db.query('INSERT INTO auth_login_failure (key) SELECT unnest($1::text[])', [keys]);
}

/** Removes one pending attempt per key (the one this login made; they are indistinguishable). */
async function settlePending(db: Queryable, keys: string[]): Promise<void> {
  for (const key of keys) {
    await db.query(
      `DELETE FROM auth_login_failure WHERE ctid = (SELECT ctid FROM auth_login_failure WHERE key = $1 ORDER BY at LIMIT 1)`,
      [pendingKey(key)],
    );
  }
}
