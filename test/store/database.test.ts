import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, PG_ERRORS, type BatchedTransaction } from '../../src/store/index.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await database?.drop();
});

/** A handle with one connection, of its own: every statement through it runs in the same session. */
function oneSession(): () => Database {
  let db: Database;
  beforeAll(() => {
    db = new Database(database.url, 1);
  });
  afterAll(async () => {
    await db?.close();
  });
  return () => db;
}

describe('Database.queryPrepared', () => {
  const session = oneSession();
  let db: Database;
  beforeAll(() => {
    db = session();
  });

  const preparedCount = async (text: string) =>
    Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM pg_prepared_statements WHERE statement = $1', [text])).rows[0].n);
  const sessionPid = async () => (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;

  it('prepares a statement once per connection and runs it with each call’s values', async () => {
    const text = 'SELECT $1::int * 2 AS doubled';
    expect((await db.queryPrepared<{ doubled: number }>(text, [2])).rows).toEqual([{ doubled: 4 }]);
    expect((await db.queryPrepared<{ doubled: number }>(text, [5])).rows).toEqual([{ doubled: 10 }]);
    expect(await preparedCount(text)).toBe(1);
  });

  it('keeps the connection and its statements after a statement’s own error', async () => {
    const text = 'SELECT 1 / $1::int AS q';
    await db.queryPrepared(text, [1]);
    const pid = await sessionPid();
    await expect(db.queryPrepared(text, [0])).rejects.toMatchObject({ code: '22012' });
    expect(await sessionPid()).toBe(pid);
    expect(await preparedCount(text)).toBe(1);
  });

  it('prepares at most 100 statements on a connection and plans the others each time', async () => {
    const texts = Array.from({ length: 110 }, (_, k) => `SELECT $1::int + ${k} AS sum /* distinct ${k} */`);
    for (const [k, text] of texts.entries()) expect((await db.queryPrepared<{ sum: number }>(text, [1])).rows[0].sum).toBe(1 + k);
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM pg_prepared_statements');
    expect(Number(rows[0].n)).toBe(100);
  });

  it('cancels a statement that outlives its timeout, on sessions of their own', async () => {
    await expect(db.queryPrepared('SELECT pg_sleep($1::float8)', [1], 50)).rejects.toMatchObject({ code: PG_ERRORS.queryCanceled });
    expect((await db.queryPrepared<{ slept: string }>('SELECT pg_sleep($1::float8)::text AS slept', [0.01], 1000)).rows).toEqual([{ slept: '' }]);
    expect((await db.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0].statement_timeout).toBe('0');
  });
});

describe('session settings', () => {
  it('are those of every connection of the pool, in and out of transactions', async () => {
    const db = new Database(database.url, 2, { max_parallel_workers_per_gather: 0, work_mem: '2MB' });
    try {
      const show = async (name: string) => (await db.query<Record<string, string>>(`SHOW ${name}`)).rows[0][name];
      expect(await show('max_parallel_workers_per_gather')).toBe('0');
      expect(await show('work_mem')).toBe('2MB');
      const inTransaction = await db.transaction(async (tx) => (await tx.query('SHOW max_parallel_workers_per_gather')).rows[0]);
      expect(inTransaction).toEqual({ max_parallel_workers_per_gather: '0' });
    } finally {
      await db.close();
    }
  });

  it('leave the server defaults alone when none are given', async () => {
    const db = new Database(database.url, 1);
    try {
      const defaults = await db.query<{ setting: string; source: string }>(`SELECT setting, source FROM pg_settings WHERE name = 'max_parallel_workers_per_gather'`);
      expect(defaults.rows[0].source).not.toBe('client');
    } finally {
      await db.close();
    }
  });
});

describe('the batched writes of a transaction', () => {
  const session = oneSession();
  let db: Database;
  beforeAll(async () => {
    db = session();
    await db.query('CREATE TABLE scratch (k text, v text)');
  });

  const preparedBatches = async () =>
    Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE 'WITH w0 AS (%'`)).rows[0].n);
  const insert = (tx: BatchedTransaction, k: string) =>
    tx.insertLater('scratch', [
      { name: 'k', type: 'text[]', value: k },
      { name: 'v', type: 'text[]', value: 'x' },
    ]);

  it('are one prepared statement when they change at most one existing row set, planned afresh when they change several', async () => {
    for (const k of ['a', 'b']) await db.transaction(async (tx) => insert(tx, k));
    expect(await preparedBatches()).toBe(1);

    await db.transaction(async (tx) => {
      for (const k of ['a', 'b']) tx.deleteLater('DELETE FROM scratch WHERE k = $1', [k]);
      insert(tx, 'c');
    });
    expect(await preparedBatches()).toBe(1);
    expect((await db.query('SELECT k FROM scratch ORDER BY k')).rows).toEqual([{ k: 'c' }]);
  });

  it('send a JSON document written to two tables once', async () => {
    await db.query('CREATE TABLE scratch_current (k text, doc jsonb); CREATE TABLE scratch_versions (k text, doc jsonb)');
    const doc = JSON.stringify({ resourceType: 'Patient', id: 'p1' });
    await db.transaction(async (tx) => {
      for (const table of ['scratch_versions', 'scratch_current']) {
        tx.insertLater(table, [
          { name: 'k', type: 'text[]', value: 'p1' },
          { name: 'doc', type: 'jsonb[]', value: doc },
        ]);
      }
    });
    const { rows } = await db.query<{ statement: string }>(`SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%scratch_current%'`);
    const documentPlaceholders = rows[0].statement.match(/\$\d+::jsonb\[\]/g);
    expect(documentPlaceholders).toHaveLength(2);
    expect(new Set(documentPlaceholders).size).toBe(1);
    for (const table of ['scratch_versions', 'scratch_current']) {
      expect((await db.query(`SELECT k, doc FROM ${table}`)).rows).toEqual([{ k: 'p1', doc: { resourceType: 'Patient', id: 'p1' } }]);
    }
  });

  it('run each step given to afterCommit once, after the commit, and none after a rollback', async () => {
    const other = new Database(database.url, 1);
    let wakes = 0;
    const wake = () => (wakes += 1);
    let seenByAnotherSession: Promise<unknown[]> | undefined;
    await db.transaction(async (tx) => {
      await tx.query('SELECT 1');
      insert(tx, 'd');
      tx.afterCommit(wake);
      tx.afterCommit(wake);
      tx.afterCommit(() => (seenByAnotherSession = other.query(`SELECT k FROM scratch WHERE k = 'd'`).then((r) => r.rows)));
    });
    expect(wakes).toBe(1);
    expect(await seenByAnotherSession).toEqual([{ k: 'd' }]);

    await expect(
      db.transaction(async (tx) => {
        insert(tx, 'e');
        tx.afterCommit(wake);
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(wakes).toBe(1);
    expect((await db.query('SELECT k FROM scratch ORDER BY k')).rows).toEqual([{ k: 'c' }, { k: 'd' }]);
    await other.close();
  });

  it('run a prepared statement inside the transaction, after the writes pending before it', async () => {
    const text = 'SELECT count(*)::int AS n FROM scratch WHERE k = $1';
    const counts = await db.transaction(async (tx) => {
      insert(tx, 'p');
      const first = (await tx.queryPrepared<{ n: number }>(text, ['p'])).rows[0].n;
      insert(tx, 'p');
      return [first, (await tx.queryPrepared<{ n: number }>(text, ['p'])).rows[0].n];
    });
    expect(counts).toEqual([1, 2]);
    const prepared = await db.query('SELECT 1 FROM pg_prepared_statements WHERE statement = $1', [text]);
    expect(prepared.rowCount).toBe(1);
  });

  it('begin with a first statement in the same message, inside the transaction, and only as the first', async () => {
    const other = new Database(database.url, 1);
    const seenMeanwhile = await db.transaction(async (tx) => {
      const first = await tx.beginWith<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid');
      await tx.query(`INSERT INTO scratch VALUES ('f', 'x')`);
      const { rows } = await tx.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid');
      expect(rows).toEqual(first.rows);
      return (await other.query(`SELECT k FROM scratch WHERE k = 'f'`)).rows;
    });
    expect(seenMeanwhile).toEqual([]);
    expect((await db.query(`SELECT k FROM scratch WHERE k = 'f'`)).rows).toEqual([{ k: 'f' }]);

    await expect(
      db.transaction(async (tx) => {
        await tx.query('SELECT 1');
        await tx.beginWith('SELECT 2');
      }),
    ).rejects.toThrow('beginWith must be the first statement of a transaction');
    await other.close();
  });
});
