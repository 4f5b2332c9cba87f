import type { Knex } from 'knex';

/**
 * `$export` with `_typeFilter`: the searches that select what is exported of a type, by type
 * (`{"MedicationRequest": ["status=active", "intent=order"]}`); a type without any exports all
 * its resources the requester may read.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE bulk_export_job ADD COLUMN type_filters jsonb`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE bulk_export_job DROP COLUMN type_filters`);
}
