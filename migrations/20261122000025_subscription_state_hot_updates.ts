import type { Knex } from 'knex';

/**
 * Each event updates its subscription's state twice (the matcher counts it, delivery records it).
 * The work index's predicate named those counters, so no such update could be HOT: every one wrote
 * a new entry into each of the table's indexes, and under a stream of events the 1,000 rows of the
 * benchmark spread over 200 pages with ten dead versions each, which every claim and count walked.
 * Delivery now claims the subscriptions the matcher's notification names by primary key, and scans
 * the rest-hook subscriptions only on its poll, so the index need not know which have work. The
 * counters leave every index, and pages keep room for the new versions of their rows (fillfactor).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX subscription_state_work_idx;
    CREATE INDEX subscription_state_due_idx ON subscription_state (next_attempt_at)
      WHERE channel = 'rest-hook' AND status IN ('requested', 'active');
    ALTER TABLE subscription_state SET (fillfactor = 50);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE subscription_state RESET (fillfactor);
    DROP INDEX subscription_state_due_idx;
    CREATE INDEX subscription_state_work_idx ON subscription_state (next_attempt_at)
      WHERE channel = 'rest-hook' AND status IN ('requested', 'active')
        AND (handshake_pending OR delivered_through < events_since_start OR heartbeat_seconds IS NOT NULL);
  `);
}
