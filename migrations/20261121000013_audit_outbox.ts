import type { Knex } from 'knex';

/**
 * The audit records of changes, written in each change's own transaction as one compact row, and
 * turned into AuditEvent resources (merged, indexed) by the audit writer shortly after. A change and
 * its record still commit or vanish together; the write path no longer pays for a second resource
 * with its history and index rows on every create.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE TABLE audit_outbox (seq bigserial PRIMARY KEY, event jsonb NOT NULL)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE audit_outbox');
}
