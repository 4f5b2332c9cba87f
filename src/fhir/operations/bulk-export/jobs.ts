import { randomUUID } from 'node:crypto';
import { storePolicy, type AccessPolicy, type StoredPolicy } from '../../../smart-auth/index.js';
import type { Queryable } from '../../../store/index.js';

/** How long a finished export (and its files) is kept. */
export const EXPORT_RETENTION_HOURS = 24;

/**
 * Types outside the Patient compartment that a Patient or Group export includes where the exported
 * resources refer to them: what is needed to read the patients' data (who treated them, where, which
 * medication), as export.html suggests for Organization and Practitioner and US Core data expects.
 */
export const SUPPORTING_TYPES = ['Location', 'Medication', 'Organization', 'Practitioner', 'PractitionerRole'];

export type ExportLevel = 'system' | 'patient' | 'group';
export type ExportStatus = 'queued' | 'running' | 'completed' | 'failed';

export interface ExportJobRow {
  id: string;
  client_id: string;
  user_id: string | null;
  level: ExportLevel;
  group_id: string | null;
  patients: string[] | null;
  resource_types: string[];
  since: Date | null;
  /** `_typeFilter`: per type, the query strings of which a resource must match one. */
  type_filters: TypeFilters | null;
  transaction_time: Date;
  request_url: string;
  output_format: string;
  policy: StoredPolicy;
  status: ExportStatus;
  selected: boolean;
  type_index: number;
  after_id: string | null;
  type_written: string;
  processed: string;
  lease_owner: string | null;
  lease_expires: Date | null;
  attempts: number;
  error: string | null;
  created: Date;
  updated: Date;
  expires: Date | null;
}

export interface NewExportJob {
  policy: AccessPolicy;
  level: ExportLevel;
  groupId?: string;
  patients?: string[];
  resourceTypes: string[];
  since?: string;
  typeFilters?: TypeFilters;
  requestUrl: string;
  outputFormat: string;
}

/** Search query strings by resource type (`status=active&intent=order`), from `_typeFilter`. */
export type TypeFilters = Record<string, string[]>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function createJob(db: Queryable, job: NewExportJob): Promise<ExportJobRow> {
  const { rows } = await db.query<ExportJobRow>(
    `INSERT INTO bulk_export_job (id, client_id, user_id, level, group_id, patients, resource_types, since, type_filters,
                                  transaction_time, request_url, output_format, policy, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now(), $10, $11, $12, 'queued') RETURNING *`,
    [
      randomUUID(),
      job.policy.clientId,
      job.policy.userId ?? null,
      job.level,
      job.groupId ?? null,
      job.patients ?? null,
      job.resourceTypes,
      job.since ?? null,
      job.typeFilters ? JSON.stringify(job.typeFilters) : null,
      job.requestUrl,
      job.outputFormat,
      JSON.stringify(storePolicy(job.policy)),
    ],
  );
  return rows[0];
}

/** A job the requester may see: its own client's (and user's); any other is as if it did not exist. */
export async function ownJob(db: Queryable, id: string, policy: AccessPolicy): Promise<ExportJobRow | undefined> {
  if (!UUID.test(id)) return undefined;
  const { rows } = await db.query<ExportJobRow>('SELECT * FROM bulk_export_job WHERE id = $1 AND (expires IS NULL OR expires > now())', [id]);
  const job = rows[0];
  if (!job || job.client_id !== policy.clientId || (job.user_id ?? undefined) !== policy.userId) return undefined;
  return job;
}

/** Cancels a job (whatever its state) and removes its output. */
export async function deleteJob(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM bulk_export_job WHERE id = $1', [id]);
}

export interface OutputFile {
  type: string;
  part: number;
  count: number;
}

/** The files of a finished job: one per type and part, with their resource counts. */
export async function outputFiles(db: Queryable, id: string): Promise<OutputFile[]> {
  const { rows } = await db.query<{ resource_type: string; part: number; count: string }>(
    `SELECT resource_type, part, sum(count) AS count FROM bulk_export_chunk WHERE job_id = $1
      GROUP BY resource_type, part ORDER BY min(seq)`,
    [id],
  );
  return rows.map((row) => ({ type: row.resource_type, part: row.part, count: Number(row.count) }));
}

/** Chunks read per query while a file streams: about a megabyte. */
const CHUNKS_PER_READ = 16;

/** The NDJSON text of one file, chunk by chunk (a read's chunks in memory at a time). */
export async function* fileChunks(db: Queryable, id: string, type: string, part: number): AsyncGenerator<string> {
  let after = -1;
  for (;;) {
    const { rows } = await db.query<{ seq: number; ndjson: string }>(
      `SELECT seq, ndjson FROM bulk_export_chunk WHERE job_id = $1 AND resource_type = $2 AND part = $3 AND seq > $4 ORDER BY seq LIMIT $5`,
      [id, type, part, after, CHUNKS_PER_READ],
    );
    if (rows.length === 0) return;
    after = rows[rows.length - 1].seq;
    for (const row of rows) yield row.ndjson;
  }
}

export async function fileExists(db: Queryable, id: string, type: string, part: number): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM bulk_export_chunk WHERE job_id = $1 AND resource_type = $2 AND part = $3 LIMIT 1', [id, type, part]);
  return rows.length > 0;
}

/** Removes finished jobs older than the retention time, and their output; returns how many. */
export async function sweepExpired(db: Queryable): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM bulk_export_job WHERE expires < now()');
  return rowCount ?? 0;
}
