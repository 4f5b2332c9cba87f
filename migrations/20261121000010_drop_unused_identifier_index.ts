import type { Knex } from 'knex';

/**
 * The GIN index on `resource.content -> 'identifier'` serves no query: identifiers are searched
 * through the token index (`search_token`). Every write, and the AuditEvent every request writes,
 * paid a GIN insertion for it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS resource_identifier_idx');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX resource_identifier_idx ON resource USING gin ((content -> 'identifier') jsonb_path_ops)`);
}
