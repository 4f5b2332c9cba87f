import type { Knex } from 'knex';

/**
 * Bulk Data `$export` (FHIR Bulk Data Access IG v2). The job row is the whole state (what to export,
 * for whom, how far it got), so any server process can run a queued job, take over one whose lease
 * ran out, answer its status and serve its files. Output is NDJSON text in chunks of a few MB; a
 * file is the ordered chunks of one type and part. Finished jobs expire (with their output) after 24 h.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE bulk_export_job (
      id uuid PRIMARY KEY,
      client_id text NOT NULL,          -- who may poll, cancel and download: the client that started it
      user_id text,
      level text NOT NULL CHECK (level IN ('system', 'patient', 'group')),
      group_id text,
      patients text[],                  -- group level: the Patient ids of Group.member.entity
      resource_types text[] NOT NULL,   -- exported in this order
      since timestamptz,
      transaction_time timestamptz NOT NULL,
      request_url text NOT NULL,
      output_format text NOT NULL,
      policy jsonb NOT NULL,            -- the requester's access policy, applied to every page read
      status text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
      selected boolean NOT NULL DEFAULT false,   -- patient and group level: bulk_export_member is filled
      type_index integer NOT NULL DEFAULT 0,     -- the type being exported
      after_id text,                             -- the last id exported of that type: the job resumes after it
      type_written bigint NOT NULL DEFAULT 0,    -- resources written of that type (file parts)
      processed bigint NOT NULL DEFAULT 0,
      chunks integer NOT NULL DEFAULT 0,
      lease_owner text,
      lease_expires timestamptz,
      attempts integer NOT NULL DEFAULT 0,
      error text,
      created timestamptz NOT NULL DEFAULT now(),
      updated timestamptz NOT NULL DEFAULT now(),
      expires timestamptz
    );
    CREATE INDEX bulk_export_job_pending_idx ON bulk_export_job (created) WHERE status IN ('queued', 'running');
    CREATE INDEX bulk_export_job_expires_idx ON bulk_export_job (expires);

    -- Patient and group level: the keys of the compartment resources to export, selected once.
    CREATE TABLE bulk_export_member (
      job_id uuid NOT NULL REFERENCES bulk_export_job (id) ON DELETE CASCADE,
      resource_type text NOT NULL,
      id text NOT NULL,
      PRIMARY KEY (job_id, resource_type, id)
    );

    CREATE TABLE bulk_export_chunk (
      job_id uuid NOT NULL REFERENCES bulk_export_job (id) ON DELETE CASCADE,
      seq integer NOT NULL,
      resource_type text NOT NULL,
      part integer NOT NULL,
      count integer NOT NULL,
      ndjson text NOT NULL,
      PRIMARY KEY (job_id, seq)
    );
    CREATE INDEX bulk_export_chunk_file_idx ON bulk_export_chunk (job_id, resource_type, part, seq);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE bulk_export_chunk; DROP TABLE bulk_export_member; DROP TABLE bulk_export_job;');
}
