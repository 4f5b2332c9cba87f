import type { Knex } from 'knex';

/**
 * Background `$reindex` jobs. The job row is the whole state (which types, how far, how many), so
 * any server process can take a job over after a crash; a batch and the job's progress commit together.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE reindex_job (
      id uuid PRIMARY KEY,
      resource_types text[] NOT NULL,   -- empty: every type
      status text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
      total bigint NOT NULL,
      processed bigint NOT NULL DEFAULT 0,
      after_type text, after_id text,   -- the last resource reindexed: the job resumes after it
      error text,
      created timestamptz NOT NULL DEFAULT now(),
      updated timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX reindex_job_pending_idx ON reindex_job (created) WHERE status IN ('queued', 'running');
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE reindex_job');
}
