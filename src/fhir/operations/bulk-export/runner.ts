import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { compartmentMembers, type SearchEngine } from '../../../search/index.js';
import { assemble, fragment, type SqlFragment } from '../../../search/sql/fragment.js';
import type { BatchedTransaction, Database } from '../../../store/index.js';
import { loadPolicy } from '../../../smart-auth/index.js';
import { EXPORT_RETENTION_HOURS, SUPPORTING_TYPES, sweepExpired, type ExportJobRow } from './jobs.js';

export interface BulkExportRunnerOptions {
  db: Database;
  search: SearchEngine;
  log?: Pick<FastifyBaseLogger, 'warn' | 'error'>;
  /** How often each process looks for queued jobs and jobs whose lease ran out. */
  pollMs?: number;
  /** How long a claimed job stays with its process without progress before another may take it over. */
  leaseSeconds?: number;
  /** Resources read per page (one transaction: the page's chunks and the job's position commit together). */
  pageSize?: number;
  /** Resources per output file: a type with more is split into several files. */
  fileResources?: number;
  /** NDJSON text per chunk row, about (see CHUNK_CHARS). */
  chunkChars?: number;
  /** How often expired jobs are removed. */
  sweepMs?: number;
}

type StepResult = 'more' | 'done' | 'lost';

/**
 * About this much NDJSON per chunk row (see `writePage`). A download reads chunks into this
 * process; a string under V8's large-object size (128 KiB: 60,000 characters are 120 KB even as
 * two-byte text) is freed by the young generation's collections, a larger one only by a full one.
 */
const CHUNK_CHARS = 50_000;

/** The runners of this process by database, so that a kick-off can start work at once. */
const runners = new WeakMap<Database, BulkExportRunner>();

export function runnerFor(db: Database): BulkExportRunner | undefined {
  return runners.get(db);
}

/**
 * Runs `$export` jobs in the background. Any process may run any job: a process claims a queued job
 * (or one whose lease ran out: its process died) with `FOR UPDATE SKIP LOCKED` and a lease, then
 * advances it page by page; each page's output, the job's position and the renewed lease commit in
 * one transaction that holds the job's row lock, so a job's progress is never lost or written twice.
 */
export class BulkExportRunner {
  readonly owner = randomUUID();
  private readonly pollMs: number;
  private readonly leaseSeconds: number;
  private readonly pageSize: number;
  private readonly fileResources: number;
  private readonly chunkChars: number;
  private readonly sweepMs: number;
  private timer?: NodeJS.Timeout;
  private sweepTimer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(readonly options: BulkExportRunnerOptions) {
    this.pollMs = options.pollMs ?? 1000;
    this.leaseSeconds = options.leaseSeconds ?? 30;
    this.pageSize = options.pageSize ?? 1000;
    this.fileResources = options.fileResources ?? 100_000;
    this.chunkChars = options.chunkChars ?? CHUNK_CHARS;
    this.sweepMs = options.sweepMs ?? 60_000;
  }

  start(): void {
    runners.set(this.options.db, this);
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.timer.unref();
    this.sweepTimer = setInterval(() => void this.sweep(), this.sweepMs);
    this.sweepTimer.unref();
    void this.sweep();
    this.kick();
  }

  /** Works until no job is left to claim (on the timer, and when a job is created). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          for (let job = await this.claim(); job && !this.stopped; job = await this.claim()) await this.runJob(job);
        } catch (error) {
          this.options.log?.warn({ err: error }, 'bulk export: claiming a job failed');
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
  }

  /** Stops taking work; the job in hand is handed back (its lease ends now) for another process to continue. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (runners.get(this.options.db) === this) runners.delete(this.options.db);
    await this.running;
    await this.options.db
      .query(`UPDATE bulk_export_job SET lease_expires = now() WHERE lease_owner = $1 AND status = 'running'`, [this.owner])
      .catch(() => undefined);
  }

  /** Waits until this process has no job in hand (tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async sweep(): Promise<number> {
    try {
      return await sweepExpired(this.options.db);
    } catch (error) {
      this.options.log?.warn({ err: error }, 'bulk export: removing expired jobs failed');
      return 0;
    }
  }

  /** Claims the oldest job that is queued, or running under a lease that ran out. */
  async claim(): Promise<ExportJobRow | undefined> {
    const { rows } = await this.options.db.query<ExportJobRow>(
      `UPDATE bulk_export_job SET status = 'running', lease_owner = $1, lease_expires = now() + make_interval(secs => $2), updated = now()
        WHERE id = (SELECT id FROM bulk_export_job
                     WHERE status = 'queued' OR (status = 'running' AND lease_expires < now())
                     ORDER BY created LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING *`,
      [this.owner, this.leaseSeconds],
    );
    return rows[0];
  }

  /** Advances a claimed job to its end, unless it is cancelled, taken over, or the process stops. */
  async runJob(job: ExportJobRow): Promise<void> {
    try {
      while (!this.stopped) {
        const result = await this.options.db.transaction((tx) => this.step(tx, job.id));
        if (result !== 'more') return;
      }
    } catch (error) {
      this.options.log?.error({ err: error, job: job.id }, 'bulk export: a step failed');
      // Three failures in a row fail the job; before that, the lease ends and the next tick retries it.
      await this.options.db
        .query(
          `UPDATE bulk_export_job SET attempts = attempts + 1, lease_expires = now(), updated = now(),
                  status = CASE WHEN attempts + 1 >= 3 THEN 'failed' ELSE status END,
                  error = $3,
                  expires = CASE WHEN attempts + 1 >= 3 THEN now() + make_interval(hours => $4) ELSE expires END
            WHERE id = $1 AND lease_owner = $2 AND status = 'running'`,
          [job.id, this.owner, (error as Error).message ?? String(error), EXPORT_RETENTION_HOURS],
        )
        .catch(() => undefined);
    }
  }

  /** One page of one job, in the caller's transaction. */
  async step(tx: BatchedTransaction, id: string): Promise<StepResult> {
    const { rows } = await tx.query<ExportJobRow>(
      `SELECT * FROM bulk_export_job WHERE id = $1 AND status = 'running' AND lease_owner = $2 FOR UPDATE`,
      [id, this.owner],
    );
    const job = rows[0];
    if (!job) return 'lost'; // cancelled, or taken over after our lease ran out
    if (job.level !== 'system' && !job.selected) {
      await this.selectMembers(tx, job);
      await tx.query(`UPDATE bulk_export_job SET selected = true, lease_expires = now() + make_interval(secs => $2), updated = now() WHERE id = $1`, [
        id,
        this.leaseSeconds,
      ]);
      return 'more';
    }
    if (job.type_index >= job.resource_types.length) {
      await tx.query('DELETE FROM bulk_export_member WHERE job_id = $1', [id]);
      await tx.query(
        `UPDATE bulk_export_job SET status = 'completed', lease_owner = NULL, lease_expires = NULL, updated = now(),
                expires = now() + make_interval(hours => $2) WHERE id = $1`,
        [id, EXPORT_RETENTION_HOURS],
      );
      return 'done';
    }
    const type = job.resource_types[job.type_index];
    const page = await this.writePage(tx, job, type);
    const typeDone = page.resources < this.pageSize;
    await tx.query(
      `UPDATE bulk_export_job SET type_index = $2, after_id = $3, type_written = $4, processed = processed + $5,
              attempts = 0, lease_expires = now() + make_interval(secs => $6), updated = now() WHERE id = $1`,
      [
        id,
        typeDone ? job.type_index + 1 : job.type_index,
        typeDone ? null : page.lastId,
        typeDone ? 0 : Number(job.type_written) + page.resources,
        page.resources,
        this.leaseSeconds,
      ],
    );
    return 'more';
  }

  /**
   * Patient and group level: the keys of the Patient compartment resources of the patients concerned
   * (every patient, or the group's members), of those Patients, and of the supporting resources they
   * refer to, selected once, in the database.
   */
  private async selectMembers(tx: BatchedTransaction, job: ExportJobRow): Promise<void> {
    const members = compartmentMembers('Patient');
    const pairs = [...members.entries()].filter(([type]) => job.resource_types.includes(type)).flatMap(([type, params]) => params.map((param) => [type, param]));
    const group = job.level === 'group';
    if (pairs.length > 0) {
      await tx.query(
        `INSERT INTO bulk_export_member (job_id, resource_type, id)
         SELECT DISTINCT $1::uuid, cm.resource_type, cm.id FROM search_reference cm
           JOIN unnest($2::text[], $3::text[]) AS m(resource_type, param) ON m.resource_type = cm.resource_type AND m.param = cm.param
          WHERE cm.target_type = 'Patient' AND ($4::text[] IS NULL OR cm.target_id = ANY($4))
         ON CONFLICT DO NOTHING`,
        [job.id, pairs.map((p) => p[0]), pairs.map((p) => p[1]), group ? (job.patients ?? []) : null],
      );
    }
    if (job.resource_types.includes('Patient')) {
      await tx.query(
        group
          ? `INSERT INTO bulk_export_member (job_id, resource_type, id) SELECT DISTINCT $1::uuid, 'Patient', unnest($2::text[]) ON CONFLICT DO NOTHING`
          : `INSERT INTO bulk_export_member (job_id, resource_type, id) SELECT $1::uuid, 'Patient', id FROM resource WHERE resource_type = 'Patient' AND NOT deleted ON CONFLICT DO NOTHING`,
        group ? [job.id, job.patients ?? []] : [job.id],
      );
    }
    await this.selectSupporting(tx, job);
  }

  /**
   * The supporting resources (SUPPORTING_TYPES) the selected resources refer to; not those an
   * AuditEvent names (it names whatever was read or changed, not what the patient's data needs).
   */
  private async selectSupporting(tx: BatchedTransaction, job: ExportJobRow): Promise<void> {
    const wanted = SUPPORTING_TYPES.filter((type) => job.resource_types.includes(type));
    if (wanted.length === 0) return;
    await tx.query(
      `INSERT INTO bulk_export_member (job_id, resource_type, id)
       SELECT DISTINCT $1::uuid, ref.target_type, ref.target_id FROM bulk_export_member m
         JOIN search_reference ref ON ref.resource_type = m.resource_type AND ref.id = m.id
        WHERE m.job_id = $1 AND m.resource_type <> 'AuditEvent' AND ref.target_type = ANY($2::text[]) AND ref.target_id IS NOT NULL
       ON CONFLICT DO NOTHING`,
      [job.id, wanted],
    );
  }

  /**
   * Writes the next page of one type as chunk rows, in PostgreSQL: the NDJSON never passes through
   * this process, so an export's size does not reach its heap (an export of 1,000,000 resources
   * read each page here: RSS +277 MB of garbage awaiting a full collection). A line goes to file
   * `part` by its place in the type and to a chunk by the text before it on the page, so a chunk
   * never spans two files and holds about `chunkChars` (a chunk may end with the line that crosses
   * the limit, and a resource longer than the limit is a chunk of its own).
   */
  private async writePage(tx: BatchedTransaction, job: ExportJobRow, type: string): Promise<{ resources: number; lastId: string | null }> {
    const page = await this.pageQuery(tx, job, type);
    // The windows walk the page in the id order it comes in (no sort: sorts are off, see below). A
    // chunk's seq is the job's count of resources before its first line: unique in the job, and in
    // file order.
    const query = fragment(
      `WITH lines AS (
         SELECT id, json, row_number() OVER w AS n, ($?::bigint + row_number() OVER w - 1) / $?::int AS part,
                coalesce(sum(length(json) + 1) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) / $?::int AS bucket
           FROM (${page.sql}) page WINDOW w AS (ORDER BY id)),
       written AS (
         INSERT INTO bulk_export_chunk (job_id, seq, resource_type, part, count, ndjson)
         SELECT $?::uuid, $?::bigint + min(n), $?, part, count(*), string_agg(json, E'\n' ORDER BY n) || E'\n'
           FROM lines GROUP BY part, bucket
         RETURNING 1)
       SELECT count(*)::int AS resources, max(id) AS last_id FROM lines`,
      job.type_written,
      this.fileResources,
      this.chunkChars,
      ...page.values,
      job.id,
      job.processed,
      type,
    );
    const assembled = assemble(query);
    // A page must come from an index in id order, never from sorting the rest of the type (quadratic
    // over the export): what the planner may pick when statistics are missing, as after a bulk load.
    // No JIT: a page is small, and a disabled sort's cost would make every page compile (1.6 s).
    await tx.query(`SELECT set_config('enable_sort', 'off', true), set_config('jit', 'off', true)`);
    const { rows } = await tx.query<{ resources: number; last_id: string | null }>(assembled.sql, assembled.values);
    return { resources: rows[0].resources, lastId: rows[0].last_id };
  }

  /**
   * The next page of one type, in id order after the job's position: current (not deleted) versions
   * changed no later than the transaction time (and after `_since`), that the requester's policy
   * lets it read and that match one of the type's `_typeFilter` searches, if it has any; at patient
   * and group level, only the selected compartment resources.
   */
  private async pageQuery(tx: BatchedTransaction, job: ExportJobRow, type: string): Promise<SqlFragment> {
    const access = await this.options.search.accessFilter(tx, loadPolicy(job.policy), [type], ['r']);
    // The time conditions are kept out of index conditions (IS TRUE): the page must walk the primary
    // key in id order; on a (type, last_updated) index it would sort the rest of the type every page.
    const conditions: SqlFragment[] = [
      fragment('NOT r.deleted'),
      fragment('(r.last_updated <= $?) IS TRUE', job.transaction_time),
      ...(job.since ? [fragment('(r.last_updated > $?) IS TRUE', job.since)] : []),
      access,
    ];
    const filters = job.type_filters?.[type];
    if (filters) conditions.push(await this.options.search.anyCriteriaCondition(tx, type, filters, loadPolicy(job.policy)));
    const where = conditions.map((c) => `(${c.sql})`).join(' AND ');
    const values = conditions.flatMap((c) => c.values);
    const after = job.after_id ?? '';
    return job.level === 'system'
      ? fragment(
          `SELECT r.id, r.content::text AS json FROM resource r
            WHERE r.resource_type = $? AND r.id > $? AND ${where} ORDER BY r.id LIMIT $?`,
          type,
          after,
          ...values,
          this.pageSize,
        )
      : fragment(
          `SELECT r.id, r.content::text AS json FROM bulk_export_member m
             JOIN resource r ON r.resource_type = m.resource_type AND r.id = m.id
            WHERE m.job_id = $? AND m.resource_type = $? AND m.id > $? AND ${where} ORDER BY m.id LIMIT $?`,
          job.id,
          type,
          after,
          ...values,
          this.pageSize,
        );
  }
}
