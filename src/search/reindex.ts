import { randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import type { BatchedTransaction, Database, Queryable } from '../store/index.js';
import { extractIndexRows } from './extract/index.js';
import { writeIndexRows } from './index-writer.js';
import type { SearchParameterRegistry } from './registry.js';

/** Resources reindexed per transaction: small enough to keep locks short, large enough to be quick. */
export const REINDEX_BATCH = 500;

export interface ReindexJob {
  id: string;
  resourceTypes: string[];
  status: 'queued' | 'running' | 'completed' | 'failed';
  total: number;
  processed: number;
  error?: string;
}

interface JobRow {
  id: string;
  resource_types: string[];
  status: ReindexJob['status'];
  total: string;
  processed: string;
  after_type: string | null;
  after_id: string | null;
  error: string | null;
}

const toJob = (row: JobRow): ReindexJob => ({
  id: row.id,
  resourceTypes: row.resource_types,
  status: row.status,
  total: Number(row.total),
  processed: Number(row.processed),
  error: row.error ?? undefined,
});

/**
 * Rewrites the index rows of current resources from their stored content, with the parameters
 * registered now (custom SearchParameters included): what `$reindex` does, batch by batch.
 */
export class Reindexer {
  constructor(
    private readonly registry: SearchParameterRegistry,
    private readonly baseUrl: string,
  ) {}

  async countResources(db: Queryable, types: string[], id?: string): Promise<number> {
    const { rows } = await db.query<{ total: string }>(
      `SELECT count(*) AS total FROM resource WHERE NOT deleted AND (cardinality($1::text[]) = 0 OR resource_type = ANY($1)) AND ($2::text IS NULL OR id = $2)`,
      [types, id ?? null],
    );
    return Number(rows[0].total);
  }

  /** Reindexes the next batch after `after` (in type, id order); returns how many and the last one done. */
  async reindexBatch(tx: BatchedTransaction, types: string[], after: { type: string; id: string } | undefined, limit = REINDEX_BATCH, id?: string) {
    const { rows } = await tx.query<{ resource_type: string; id: string; content: Resource }>(
      `SELECT resource_type, id, content FROM resource
        WHERE NOT deleted AND (cardinality($1::text[]) = 0 OR resource_type = ANY($1)) AND ($2::text IS NULL OR id = $2)
          AND ($3::text IS NULL OR (resource_type, id) > ($3, $4))
        ORDER BY resource_type, id LIMIT $5 FOR UPDATE`,
      [types, id ?? null, after?.type ?? null, after?.id ?? null, limit],
    );
    for (const row of rows) {
      writeIndexRows(tx, row.resource_type, row.id, extractIndexRows(row.content, this.registry, this.baseUrl), true);
    }
    const last = rows[rows.length - 1];
    return { count: rows.length, last: last && { type: last.resource_type, id: last.id } };
  }

  /** Reindexes everything selected, now, in batches of their own transactions; for small sets and single resources. */
  async reindexNow(db: Database, types: string[], id?: string): Promise<number> {
    let after: { type: string; id: string } | undefined;
    let processed = 0;
    for (;;) {
      const batch = await db.transaction((tx) => this.reindexBatch(tx, types, after, REINDEX_BATCH, id));
      processed += batch.count;
      if (batch.count < REINDEX_BATCH) return processed;
      after = batch.last;
    }
  }

  async createJob(db: Queryable, types: string[], total: number): Promise<ReindexJob> {
    const { rows } = await db.query<JobRow>(
      `INSERT INTO reindex_job (id, resource_types, status, total) VALUES ($1, $2, 'queued', $3) RETURNING *`,
      [randomUUID(), types, total],
    );
    return toJob(rows[0]);
  }

  async job(db: Queryable, id: string): Promise<ReindexJob | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const { rows } = await db.query<JobRow>('SELECT * FROM reindex_job WHERE id = $1', [id]);
    return rows[0] && toJob(rows[0]);
  }

  /**
   * Advances the oldest unfinished job by one batch, if any process is not already doing so (row
   * lock, SKIP LOCKED): the batch and the job's progress commit together. Returns false when idle.
   */
  async runOneBatch(db: Database): Promise<boolean> {
    return db.transaction(async (tx) => {
      const { rows } = await tx.query<JobRow>(
        `SELECT * FROM reindex_job WHERE status IN ('queued', 'running') ORDER BY created LIMIT 1 FOR UPDATE SKIP LOCKED`,
      );
      const job = rows[0];
      if (!job) return false;
      const after = job.after_type ? { type: job.after_type, id: job.after_id as string } : undefined;
      const batch = await this.reindexBatch(tx, job.resource_types, after);
      const done = batch.count < REINDEX_BATCH;
      await tx.query(
        `UPDATE reindex_job SET status = $2, processed = processed + $3, after_type = $4, after_id = $5, updated = now() WHERE id = $1`,
        [job.id, done ? 'completed' : 'running', batch.count, batch.last?.type ?? job.after_type, batch.last?.id ?? job.after_id],
      );
      return !done;
    });
  }
}

/** Works through reindex jobs in the background; several processes share the work safely. */
export class ReindexWorker {
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = false;

  constructor(
    private readonly reindexer: Reindexer,
    private readonly db: Database,
    private readonly pollMs = 1000,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.timer.unref();
  }

  /** Runs batches until there is no work left (called on a timer, and when a job is created). */
  kick(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    void (async () => {
      try {
        while (!this.stopped && (await this.reindexer.runOneBatch(this.db)));
      } catch {
        // A failed batch rolls back; the job stays where it was and the next tick retries it.
      } finally {
        this.running = false;
      }
    })();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }
}
