import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { feedStartSql, readFeed, toFeedStart, writeCursor, type FeedRow, type FeedStartRow } from '../../src/subscriptions/feed.js';
import { Database, type Queryable } from '../../src/store/index.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { eventually } from './support.js';

/** The feed's readers ask for the content of the types they care about: here, the Patients written. */
const PATIENT_CONTENT = ['Patient'];

/**
 * The change feed as the subscriptions read it (src/subscriptions/feed.ts): a transaction that took
 * a lower seq and commits after a higher one is not skipped, a rolled-back one is never seen, and
 * each row is read once.
 */
describe('the change feed reader', () => {
  let database: TestDatabase;
  let db: Database;
  const clients: pg.Client[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    db = new Database(database.url, 4);
  });

  afterAll(async () => {
    for (const client of clients) await client.end().catch(() => undefined);
    await db?.close();
    await database?.drop();
  });

  async function connection(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    clients.push(client);
    return client;
  }

  let counter = 0;
  async function insertHistory(client: Pick<Queryable, 'query'>, id: string): Promise<number> {
    const { rows } = await client.query<{ seq: string }>(
      `INSERT INTO resource_history (resource_type, id, version_id, last_updated, method, content)
       VALUES ('Patient', $1, 1, now(), 'POST', $2::jsonb) RETURNING seq`,
      [id, JSON.stringify({ resourceType: 'Patient', id, active: true, n: ++counter })],
    );
    return Number(rows[0].seq);
  }

  /** One matcher step: reads a batch and stores the position, as the matcher does. */
  async function consume(): Promise<FeedRow[]> {
    return db.transaction(async (tx) => {
      const batch = await readFeed(tx, 100, PATIENT_CONTENT);
      await writeCursor(tx, batch.next);
      return batch.rows;
    });
  }

  /** Everything final so far (several steps: a window, then the next). */
  async function drain(): Promise<FeedRow[]> {
    const all: FeedRow[] = [];
    for (;;) {
      const rows = await consume();
      if (rows.length === 0) return all;
      all.push(...rows);
    }
  }

  it('does not skip a change that took a lower seq but committed later', async () => {
    await drain();
    const slow = await connection();
    await slow.query('BEGIN');
    const early = await insertHistory(slow, 'slow-writer');
    const late = await insertHistory(db, 'fast-writer'); // commits at once
    expect(late).toBeGreaterThan(early);

    // The faster change is committed, but a change with a lower seq may still come: it waits.
    expect((await drain()).map((r) => r.id)).not.toContain('fast-writer');

    await slow.query('COMMIT');
    const seen: FeedRow[] = [];
    await eventually(async () => {
      seen.push(...(await drain()));
      return seen.length >= 2 ? true : undefined;
    });
    expect(seen.map((r) => [r.seq, r.id])).toEqual([
      [early, 'slow-writer'],
      [late, 'fast-writer'],
    ]);
    expect(seen[0].resource).toMatchObject({ resourceType: 'Patient', id: 'slow-writer' });
    // Read once: nothing more afterwards.
    expect(await drain()).toEqual([]);
  });

  it('is not held back by a transaction of another database, which cannot write this history', async () => {
    await drain();
    const elsewhere = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
    await elsewhere.connect();
    try {
      await elsewhere.query('BEGIN');
      await elsewhere.query('SELECT pg_current_xact_id()'); // holds a transaction id older than the write below
      const seq = await insertHistory(db, 'beside-another-database');
      const rows = await drain();
      expect(rows.map((r) => [r.seq, r.id])).toEqual([[seq, 'beside-another-database']]);
    } finally {
      await elsewhere.query('ROLLBACK').catch(() => undefined);
      await elsewhere.end();
    }
  });

  it('never shows a rolled-back change', async () => {
    await drain();
    const doomed = await connection();
    await doomed.query('BEGIN');
    await insertHistory(doomed, 'rolled-back');
    const kept = await insertHistory(db, 'kept');
    await doomed.query('ROLLBACK');
    const seen = await eventually(async () => {
      const rows = await drain();
      return rows.length ? rows : undefined;
    });
    expect(seen.map((r) => [r.seq, r.id])).toEqual([[kept, 'kept']]);
    expect(await drain()).toEqual([]);
  });

  it('pages a window in batches and resumes from the stored position', async () => {
    await drain();
    const seqs: number[] = [];
    for (let i = 0; i < 7; i++) seqs.push(await insertHistory(db, `paged-${i}`));
    const batches: number[][] = [];
    await eventually(async () => {
      const rows = await db.transaction(async (tx) => {
        const batch = await readFeed(tx, 3, PATIENT_CONTENT);
        await writeCursor(tx, batch.next);
        return batch.rows;
      });
      if (rows.length) batches.push(rows.map((r) => r.seq));
      return batches.flat().length >= 7 ? true : undefined;
    });
    expect(batches.flat()).toEqual(seqs);
    expect(batches.every((b) => b.length <= 3)).toBe(true);
  });

  it('says when a window is done, and then starts the next window without looking at the rest of it', async () => {
    await drain();
    const first = [await insertHistory(db, 'window-a'), await insertHistory(db, 'window-b')];
    const read = await eventually(async () => {
      const batch = await db.transaction(async (tx) => {
        const found = await readFeed(tx, 100, PATIENT_CONTENT);
        await writeCursor(tx, found.next);
        return found;
      });
      return batch.rows.length ? batch : undefined;
    });
    expect(read.rows.map((r) => r.seq)).toEqual(first);
    expect(read.windowDone).toBe(true);

    const later = await insertHistory(db, 'window-c');
    const next = await eventually(async () =>
      db.transaction(async (tx) => {
        const start = toFeedStart((await tx.query<FeedStartRow>(feedStartSql())).rows[0]);
        expect(start.stored).toEqual(read.next);
        const batch = await readFeed(tx, 100, PATIENT_CONTENT, { ...start, windowDone: true });
        return batch.rows.length ? batch : undefined;
      }),
    );
    expect(next.rows.map((r) => r.seq)).toEqual([later]);
    expect(next.next).toMatchObject({ low: read.next.high, afterSeq: later });
  });

  it('says a window is not done when a batch filled up', async () => {
    await drain();
    for (let i = 0; i < 3; i++) await insertHistory(db, `full-${i}`);
    const batch = await eventually(async () => {
      const found = await db.transaction(async (tx) => readFeed(tx, 2, PATIENT_CONTENT));
      return found.rows.length ? found : undefined;
    });
    expect(batch.rows).toHaveLength(2);
    expect(batch.windowDone).toBe(false);
  });

  it('reads the content only of the types asked for, and says when it left it out', async () => {
    await drain();
    const seq = await insertHistory(db, 'no-content');
    const row = await eventually(async () => {
      const rows = await db.transaction(async (tx) => (await readFeed(tx, 100, ['Observation'])).rows); // position not stored
      return rows.find((r) => r.seq === seq);
    });
    expect(row).toMatchObject({ resourceType: 'Patient', id: 'no-content', contentOmitted: true });
    expect(row.resource).toBeUndefined();
    const [withContent] = await drain();
    expect(withContent).toMatchObject({ seq, contentOmitted: false, resource: { resourceType: 'Patient', id: 'no-content' } });
  });

  it('reads a batch again when the transaction that read it did not commit (a crash before storing the events)', async () => {
    await drain();
    const seq = await insertHistory(db, 'redo');
    const first = await eventually(async () => {
      const rows = await db.transaction(async (tx) => (await readFeed(tx, 100, PATIENT_CONTENT)).rows); // position not stored
      return rows.length ? rows : undefined;
    });
    expect(first.map((r) => r.seq)).toEqual([seq]);
    expect((await drain()).map((r) => r.seq)).toEqual([seq]);
  });
});
