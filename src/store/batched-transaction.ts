import pg from 'pg';
import type { Queryable } from './database.js';
import { queryPreparedOn } from './prepared-statements.js';

/** Rows for one table, kept as parallel arrays (one per column) until they are written with `unnest`. */
interface PendingRows {
  table: string;
  columns: string[];
  /** The SQL array type of each column (`text[]`, `jsonb[]`, ...). */
  types: string[];
  /** What is stored from each unnested value: the value itself, or an SQL expression of it. */
  selects: string[];
  /** `INSERT ... ON CONFLICT ...` tail, when there is one. */
  onConflict: string;
  values: unknown[][];
}

export interface PendingColumn {
  name: string;
  /** The SQL array type the column's values are sent as (`text[]`, `jsonb[]`). */
  type: string;
  value: unknown;
  select?: string;
}

/**
 * The JSON documents of a batch by placeholder: a version's content goes to `resource` and to
 * `resource_history`, and is sent (escaped, transferred, parsed) once for both.
 */
class SharedDocuments {
  private readonly seen: { column: unknown[]; placeholder: string }[] = [];

  find(column: unknown[]): string | undefined {
    return this.seen.find((known) => known.column.length === column.length && known.column.every((value, i) => value === column[i]))?.placeholder;
  }

  add(column: unknown[], placeholder: string): void {
    this.seen.push({ column, placeholder });
  }
}

/**
 * `value` as an SQL string literal, for a statement sent with `beginWith`; undefined for a value
 * that PostgreSQL text cannot hold (a NUL would end the message's query string early), which
 * must then be sent as a parameter.
 */
export function sqlLiteral(value: string): string | undefined {
  return value.includes('\0') ? undefined : pg.escapeLiteral(value);
}

/** Pending rows past this many bind values are written at once (PostgreSQL takes at most 65535 per statement). */
const MAX_PENDING_VALUES = 20_000;

/**
 * A transaction that writes in batches. Inserts (resource, history and index rows, from the write
 * path) are kept per table and sent as one statement of data-modifying CTEs, each a multi-row insert
 * from `unnest`: a single create costs one round trip for all its rows, a transaction Bundle a few.
 * The pending rows are written before any other statement runs (so every query in the transaction
 * sees them) and before commit. A statement whose result matters (a delete, a lock, a read) is never
 * deferred; deletes of index rows are, as steps that precede the inserts of the same flush.
 */
export class BatchedTransaction implements Queryable {
  private readonly pending = new Map<string, PendingRows>();
  private readonly deletes: { sql: string; values: unknown[] }[] = [];
  private pendingValues = 0;
  private readonly commitSteps: (() => Promise<void>)[] = [];
  private readonly committedSteps = new Set<() => void>();
  /** BEGIN is sent with the first statement that needs a transaction around it (see `commit`). */
  private begun = false;

  constructor(private readonly client: pg.PoolClient) {}

  private async begin(): Promise<void> {
    if (this.begun) return;
    this.begun = true;
    await this.client.query('BEGIN');
  }

  /** Nothing has been sent or queued yet: `beginWith` may start the transaction. */
  get fresh(): boolean {
    return !this.begun && this.pending.size === 0 && this.deletes.length === 0;
  }

  /**
   * Begins the transaction with its first statements, all in one message (one round trip instead
   * of one each): for statements without parameters (the simple protocol takes several statements,
   * but no parameters; see `sqlLiteral`). Each statement still takes its own snapshot, so one that
   * follows a lock sees what was committed before the lock was granted. Only while `fresh`; the
   * result is the last statement's.
   */
  async beginWith<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string): Promise<pg.QueryResult<R>> {
    if (!this.fresh) throw new Error('beginWith must be the first statement of a transaction');
    this.begun = true;
    const results = (await this.client.query(`BEGIN; ${text}`)) as unknown as pg.QueryResult<R>[];
    return results[results.length - 1];
  }

  /**
   * Queues one row for `table`; rows of one table and column list go out as one multi-row insert.
   * A column's `select` (`to_tsvector('english', $)`) computes what is stored from the value.
   */
  insertLater(table: string, columns: PendingColumn[], onConflict = ''): void {
    const key = `${table}(${columns.map((c) => `${c.name}:${c.select ?? ''}`).join(',')})${onConflict}`;
    let rows = this.pending.get(key);
    if (!rows) {
      rows = {
        table,
        columns: columns.map((c) => c.name),
        types: columns.map((c) => c.type),
        selects: columns.map((c, i) => (c.select ?? '$').replace('$', `u.c${i}`)),
        onConflict,
        values: columns.map(() => []),
      };
      this.pending.set(key, rows);
    }
    columns.forEach((column, i) => (rows as PendingRows).values[i].push(column.value));
    this.pendingValues += columns.length;
  }

  /** Queues a delete that must happen with the next batch of inserts (the old index rows of a resource, the outbox rows an audit batch replaces). */
  deleteLater(sql: string, values: unknown[]): void {
    this.deletes.push({ sql, values });
    this.pendingValues += values.length;
  }

  /**
   * Work for the end of the transaction, after everything else in it and before the commit (the
   * audit record of its changes); it may write in the transaction too. Lost with a rollback.
   */
  beforeCommit(step: () => Promise<void>): void {
    this.commitSteps.push(step);
  }

  /**
   * Work for after the commit, run once however often it is given (a wake-up for readers of what
   * was written); not run after a rollback. It must not throw.
   */
  afterCommit(step: () => void): void {
    this.committedSteps.add(step);
  }

  /**
   * Runs the steps given to `beforeCommit`, in order, writes what is pending, commits, and runs
   * the steps given to `afterCommit`. A transaction whose only statement is its batch of writes (a
   * create, an audit batch) sends that statement alone, without BEGIN and COMMIT: one statement is
   * atomic by itself, and on this path every round trip to the database counts.
   */
  async commit(): Promise<void> {
    for (let step = this.commitSteps.shift(); step; step = this.commitSteps.shift()) await step();
    await this.send();
    if (this.begun) await this.client.query('COMMIT');
    for (const step of this.committedSteps) step();
  }

  /** Undoes what was sent, if anything was. */
  async rollback(): Promise<void> {
    if (this.begun) await this.client.query('ROLLBACK');
  }

  /** Writes what is pending when it has grown large (called by writers after they queue). */
  async flushIfLarge(): Promise<void> {
    if (this.pendingValues > MAX_PENDING_VALUES) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0 && this.deletes.length === 0) return;
    await this.begin();
    await this.send();
  }

  /**
   * Sends what is pending as one statement (in the transaction, once it has begun), prepared when
   * it changes at most one existing resource: its text is then the same for every write of one
   * shape, and its plan has no choice to get wrong.
   */
  private async send(): Promise<void> {
    if (this.pending.size === 0 && this.deletes.length === 0) return;
    const values: unknown[] = [];
    const renumber = (sql: string, own: unknown[]) => {
      const offset = values.length;
      values.push(...own);
      return sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`);
    };
    // Deletes repeat per changed resource: a Bundle of updates makes a text of its own, which is
    // worth no prepared statement (a connection keeps only so many).
    const prepare = new Set(this.deletes.map((d) => d.sql)).size === this.deletes.length;
    const steps = this.deletes.map((d) => renumber(d.sql, d.values));
    const placeholders = new SharedDocuments();
    for (const rows of this.pending.values()) {
      const arrays = rows.values.map((column, i) => {
        const shared = rows.types[i] === 'jsonb[]' ? placeholders.find(column) : undefined;
        if (shared) return shared;
        values.push(column);
        const placeholder = `$${values.length}::${rows.types[i]}`;
        if (rows.types[i] === 'jsonb[]') placeholders.add(column, placeholder);
        return placeholder;
      });
      const aliases = rows.columns.map((_, i) => `c${i}`).join(', ');
      steps.push(
        `INSERT INTO ${rows.table} (${rows.columns.join(', ')}) SELECT ${rows.selects.join(', ')} FROM unnest(${arrays.join(', ')}) AS u(${aliases}) ${rows.onConflict}`,
      );
    }
    this.pending.clear();
    this.deletes.length = 0;
    this.pendingValues = 0;
    const text = `WITH ${steps.map((step, i) => `w${i} AS (${step})`).join(', ')} SELECT 1`;
    await (prepare ? queryPreparedOn(this.client, text, values) : this.client.query(text, values));
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    await this.begin();
    await this.flush();
    return this.client.query<R>(text, values);
  }

  /** A prepared statement of the connection (see prepared-statements.ts), after what is pending. */
  async queryPrepared<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    await this.begin();
    await this.flush();
    return queryPreparedOn<R>(this.client, text, values);
  }
}
