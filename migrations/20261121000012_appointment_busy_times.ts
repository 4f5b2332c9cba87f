import type { Knex } from 'knex';

/**
 * When each practitioner (or role) is booked: one row per live appointment and scheduled actor,
 * kept by the appointment rules in the appointment's own transaction. The double-booking check
 * looks up the actor's appointments near the new one's time in this index instead of searching
 * every appointment of the actor (a search whose cost grew with the actor's whole history and ran
 * under the actor's booking lock). Appointments longer than 31 days are `long` and found apart.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE appointment_busy (
      actor text NOT NULL,
      starts timestamptz NOT NULL,
      ends timestamptz NOT NULL,
      long boolean NOT NULL,
      appointment_id text NOT NULL
    );
    CREATE INDEX appointment_busy_actor_idx ON appointment_busy (actor, starts);
    CREATE INDEX appointment_busy_long_idx ON appointment_busy (actor, starts) WHERE long;
    CREATE INDEX appointment_busy_appointment_idx ON appointment_busy (appointment_id);
  `);
  // The appointments already stored. A reference to an actor is relative, or absolute with any base
  // (the server's own base URL is not known here).
  await knex.raw(`
    INSERT INTO appointment_busy (actor, starts, ends, long, appointment_id)
    SELECT DISTINCT a.actor, (r.content ->> 'start')::timestamptz, (r.content ->> 'end')::timestamptz,
           (r.content ->> 'end')::timestamptz - (r.content ->> 'start')::timestamptz > interval '31 days', r.id
      FROM resource r
     CROSS JOIN LATERAL jsonb_array_elements(r.content -> 'participant') p
     CROSS JOIN LATERAL (SELECT (regexp_match(p.value -> 'actor' ->> 'reference', '(^|/)((Practitioner|PractitionerRole)/[A-Za-z0-9.-]{1,64})$'))[2] AS actor) a
     WHERE r.resource_type = 'Appointment' AND NOT r.deleted
       AND r.content ->> 'status' IN ('pending', 'booked', 'arrived', 'checked-in')
       AND r.content ->> 'start' IS NOT NULL AND r.content ->> 'end' IS NOT NULL
       AND coalesce(p.value ->> 'status', '') <> 'declined'
       AND a.actor IS NOT NULL
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE appointment_busy');
}
