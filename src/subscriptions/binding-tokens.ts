import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '../store/index.js';

/** How long a websocket binding token may be used to bind (it can bind many times until then). */
export const BINDING_TOKEN_SECONDS = 300;

const hash = (token: string): string => createHash('sha256').update(token).digest('hex');

/** Issues a token that lets a websocket bind to these subscriptions; only its hash is stored (any process can check it). */
export async function issueBindingToken(db: Queryable, subscriptionIds: string[]): Promise<{ token: string; expires: Date }> {
  const token = randomBytes(32).toString('base64url');
  const expires = new Date(Date.now() + BINDING_TOKEN_SECONDS * 1000);
  await db.query('INSERT INTO subscription_ws_token (token_hash, subscription_ids, expires) VALUES ($1, $2, $3)', [hash(token), subscriptionIds, expires]);
  return { token, expires };
}

/** The subscriptions a token binds to, or undefined when it is unknown or expired. */
export async function redeemBindingToken(db: Queryable, token: string): Promise<string[] | undefined> {
  const { rows } = await db.query<{ subscription_ids: string[] }>(
    'SELECT subscription_ids FROM subscription_ws_token WHERE token_hash = $1 AND expires > now()',
    [hash(token)],
  );
  return rows[0]?.subscription_ids;
}
