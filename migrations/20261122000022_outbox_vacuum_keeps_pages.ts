import type { Knex } from 'knex';

/**
 * A vacuum of the audit outbox (the server's sweep, or autovacuum) leaves its empty pages in place.
 * Every drain empties the outbox, so each vacuum found empty pages at its end and truncated them,
 * which takes an ACCESS EXCLUSIVE lock: every write, queued behind it to add its audit row, waited
 * (a truncation waiting 389 ms for its lock, seen in bench:subscriptions). The pages are reused by
 * the next rows anyway.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE audit_outbox SET (vacuum_truncate = false)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE audit_outbox RESET (vacuum_truncate)');
}
