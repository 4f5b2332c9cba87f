import type { Knex } from 'knex';

/**
 * What one rest-hook notification of a subscription carries, mirrored from its Subscription when
 * it is written: how many events at most, and whether with the versions they are about. The claim
 * of subscriptions with work reads their next events in the same statement. Rows written before
 * have neither (NULL): their events are read on their own, as before.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE subscription_state ADD COLUMN events_per_notification integer, ADD COLUMN with_focus boolean');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE subscription_state DROP COLUMN events_per_notification, DROP COLUMN with_focus');
}
