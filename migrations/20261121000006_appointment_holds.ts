import type { Knex } from 'knex';

/**
 * The expiry of `Appointment/$hold`s. The Appointment (status `pending`) is the record; this row
 * only says until when its slots are held, so that any server process, also after a restart, can
 * find expired holds (`FOR UPDATE SKIP LOCKED`) and free them. It is written and removed in the
 * same transaction as the Appointment's version that makes or ends the hold.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE appointment_hold (
      appointment_id text PRIMARY KEY,
      expires_at timestamptz NOT NULL
    );
    CREATE INDEX appointment_hold_expires_idx ON appointment_hold (expires_at);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE appointment_hold');
}
