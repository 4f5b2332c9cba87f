import type { Knex } from 'knex';

/**
 * Deleted Subscriptions kept their state row (status `deleted`) and their events; a Subscription's
 * delete now removes both (state.ts, forgetSubscription). Those left by earlier deletes go now.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`DELETE FROM subscription_event e USING subscription_state s WHERE s.status = 'deleted' AND e.subscription_id = s.id`);
  await knex.raw(`DELETE FROM subscription_state WHERE status = 'deleted'`);
}

export async function down(): Promise<void> {
  // What was deleted is not brought back.
}
