import { userInfo } from 'node:os';
import pg from 'pg';
import { BatchedTransaction } from './batched-transaction.js';

/** A connection that runs queries: the pool itself, or a client inside a transaction. */
export interface Queryable {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows are typed by each query
  query<R extends pg.QueryResultRow = any>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** PostgreSQL error codes we act on. */
export const PG_ERRORS = { uniqueViolation: '23505', serializationFailure: '40001', deadlockDetected: '40P01', queryCanceled: '57014' } as const;

/**
 * libpq's default user is $USER; services and CI jobs often run without it. A connection string
 * without a user then means the operating-system user, as psql does.
 */
if (!process.env.PGUSER && !process.env.USER) process.env.PGUSER = userInfo().username;

export function isPgError(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === code;
}

/**
 * The database handle the store is given: a pool and transactions on it. A transaction retries
 * on serialization failures and deadlocks, which PostgreSQL resolves by aborting one side.
 */
export class Database {
  readonly pool: pg.Pool;

  constructor(
    readonly connectionString: string,
    max = Number(process.env.DB_POOL_SIZE ?? 20),
  ) {
    this.pool = new pg.Pool({ connectionString, max });
    // An idle client losing its connection must not crash the process; the pool replaces it.
    this.pool.on('error', () => undefined);
  }

  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>(text, values);
  }

  async transaction<T>(work: (tx: BatchedTransaction) => Promise<T>, attempts = 5): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      const tx = new BatchedTransaction(client);
      try {
        const result = await work(tx);
        await tx.commit();
        return result;
      } catch (error) {
        await tx.rollback().catch(() => undefined);
        const retryable = isPgError(error, PG_ERRORS.serializationFailure) || isPgError(error, PG_ERRORS.deadlockDetected);
        if (!retryable || attempt >= attempts) throw error;
      } finally {
        client.release();
      }
    }
  }

  async isReady(): Promise<boolean> {
    try {
      await this.pool.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
