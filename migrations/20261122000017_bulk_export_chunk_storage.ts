import type { Knex } from 'knex';

/**
 * Export chunks are written once, read a few times and gone within a day: pglz compressing them was
 * half of PostgreSQL's time per page (23 of about 45 ms for 1,000 Observations). lz4 where the
 * server is built with it (PostgreSQL from Debian is); otherwise (the embedded PostgreSQL) they are
 * stored out of line uncompressed. And the job's chunk counter goes: a chunk's `seq` is now the
 * count of the job's resources before its first line (always above the counter's values).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    DO $$ BEGIN
      ALTER TABLE bulk_export_chunk ALTER COLUMN ndjson SET COMPRESSION lz4;
    EXCEPTION WHEN feature_not_supported THEN
      ALTER TABLE bulk_export_chunk ALTER COLUMN ndjson SET STORAGE EXTERNAL;
    END $$;
    ALTER TABLE bulk_export_job DROP COLUMN chunks;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE bulk_export_chunk ALTER COLUMN ndjson SET COMPRESSION pglz, ALTER COLUMN ndjson SET STORAGE EXTENDED;
    ALTER TABLE bulk_export_job ADD COLUMN chunks integer NOT NULL DEFAULT 0;
  `);
}
