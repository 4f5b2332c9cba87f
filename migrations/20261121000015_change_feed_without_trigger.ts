import type { Knex } from 'knex';

/**
 * The change feed's wake-up trigger goes: a NOTIFY in every write transaction made the commits of
 * all writers take turns (PostgreSQL holds one lock from a notifying transaction's pre-commit
 * through its WAL flush). A committed write now wakes its own process's matcher
 * (src/subscriptions/write-hooks.ts, feedWakeHook).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TRIGGER resource_history_wake ON resource_history;
    DROP FUNCTION fhir_change_feed_wake();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE FUNCTION fhir_change_feed_wake() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      IF EXISTS (SELECT 1 FROM subscription_state WHERE status IN ('requested', 'active')) THEN
        PERFORM pg_notify('fhir_change_feed', '');
      END IF;
      RETURN NULL;
    END
    $fn$;
    CREATE TRIGGER resource_history_wake AFTER INSERT ON resource_history
      FOR EACH STATEMENT EXECUTE FUNCTION fhir_change_feed_wake();
  `);
}
