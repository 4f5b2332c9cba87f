import { userInfo } from 'node:os';
import pg from 'pg';
import { BatchedTransaction } from './batched-transaction.js';
import { queryPreparedOn } from './prepared-statements.js';

/** A connection that runs queries: the pool itself, or a client inside a transaction. */
export interface Queryable {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows are typed by each query
  query<R extends pg.QueryResultRow = any>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  /** The same, as a prepared statement of the connection (see prepared-statements.ts). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows are typed by each query
  queryPrepared<R extends pg.QueryResultRow = any>(text: string, values: unknown[]): Promise<pg.QueryResult<R>>;
}

/** PostgreSQL error codes we act on. */
export const PG_ERRORS = {
  uniqueViolation: '23505',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  queryCanceled: '57014',
  characterNotInRepertoire: '22021',
} as const;

/**
 * libpq's default user is $USER; services and CI jobs often run without it. A connection string
 * without a user then means the operating-system user, as psql does.
 */
if (!process.env.PGUSER && !process.env.USER) process.env.PGUSER = userInfo().username;

export function isPgError(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === code;
}

/**
 * What a request is told when PostgreSQL refused one of its values as text: a NUL (`%00`), which no
 * text column can hold (SQLSTATE 22021; Node sends every other character as valid UTF-8). It is the
 * client's value, so a 400, wherever it was bound (a search, a client id, an operation's input).
 */
export function refusedTextOf(error: unknown): string | undefined {
  return isPgError(error, PG_ERRORS.characterNotInRepertoire) ? 'A value of the request holds a NUL character (%00), which no FHIR or OAuth value may hold' : undefined;
}

/**
 * The database handle the store is given: a pool and transactions on it. A transaction retries
 * on serialization failures and deadlocks, which PostgreSQL resolves by aborting one side.
 */
export class Database {
  readonly pool: pg.Pool;
  /** Per statement timeout: a small pool whose sessions have it (see queryPrepared). */
  private readonly timedPools = new Map<number, pg.Pool>();

  /**
   * `settings`: session settings every connection of the pool starts with (sent with the
   * connection's start-up message, so they cost no statement).
   */
  constructor(
    readonly connectionString: string,
    max = Number(process.env.DB_POOL_SIZE ?? 20),
    settings: Record<string, string | number> = {},
  ) {
    this.pool = newPool({ connectionString, max, options: startupOptions(settings) });
  }

  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>(text, values);
  }

  /**
   * A prepared statement (see prepared-statements.ts). With `timeoutMs`, PostgreSQL cancels it
   * (error 57014) after that long: it runs on a pool whose sessions start with that
   * `statement_timeout` (one round trip, where a `SET LOCAL` would need a transaction around it: four).
   */
  async queryPrepared<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[], timeoutMs?: number): Promise<pg.QueryResult<R>> {
    const client = await this.poolFor(timeoutMs).connect();
    let broken: Error | undefined;
    try {
      return await queryPreparedOn<R>(client, text, values);
    } catch (error) {
      // A statement's own error (it has a SQLSTATE) leaves the connection usable; anything else does not.
      if (!(error as { code?: string }).code) broken = error as Error;
      throw error;
    } finally {
      client.release(broken);
    }
  }

  private poolFor(timeoutMs: number | undefined): pg.Pool {
    if (!timeoutMs) return this.pool;
    let pool = this.timedPools.get(timeoutMs);
    if (!pool) this.timedPools.set(timeoutMs, (pool = newPool({ connectionString: this.connectionString, max: TIMED_POOL_SIZE, statement_timeout: timeoutMs })));
    return pool;
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

  async close(): Promise<void> {
    await Promise.all([this.pool, ...this.timedPools.values()].map((pool) => pool.end()));
  }
}

/** Connections of each statement-timeout pool: the first page of every search runs there (with its count). */
const TIMED_POOL_SIZE = 6;
/** A connection is replaced after this many uses, and the statements it prepared go with it. */
const MAX_USES_PER_CONNECTION = 50_000;

/** libpq's `options`: `-c name=value` per setting (values are numbers and words here: nothing to escape). */
function startupOptions(settings: Record<string, string | number>): string | undefined {
  const entries = Object.entries(settings);
  return entries.length === 0 ? undefined : entries.map(([name, value]) => `-c ${name}=${value}`).join(' ');
}

function newPool(config: pg.PoolConfig): pg.Pool {
  const pool = new pg.Pool({ ...config, maxUses: MAX_USES_PER_CONNECTION });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  return pool;
}
