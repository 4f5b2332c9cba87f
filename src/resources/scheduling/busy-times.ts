import type { Appointment } from '@medplum/fhirtypes';
import type { BatchedTransaction, Queryable } from '../../store/index.js';

/** Appointments longer than this are `long`: the check finds them apart from the window of near starts. */
const LONG_APPOINTMENT_MS = 31 * 24 * 3600 * 1000;

/**
 * Records when the appointment's actors are busy (table appointment_busy), replacing what its
 * previous version recorded; nothing when it is not live or has no start and end. Written with the
 * transaction's other rows (no round trip of its own).
 */
export function recordBusyTimes(tx: BatchedTransaction, id: string, appointment: Appointment | undefined, actors: string[], live: boolean): void {
  tx.deleteLater('DELETE FROM appointment_busy WHERE appointment_id = $1', [id]);
  if (!appointment?.start || !appointment.end || !live) return;
  const starts = Date.parse(appointment.start);
  const ends = Date.parse(appointment.end);
  for (const actor of actors) {
    tx.insertLater('appointment_busy', [
      { name: 'actor', type: 'text[]', value: actor },
      { name: 'starts', type: 'timestamptz[]', value: new Date(starts).toISOString() },
      { name: 'ends', type: 'timestamptz[]', value: new Date(ends).toISOString() },
      { name: 'long', type: 'boolean[]', value: ends - starts > LONG_APPOINTMENT_MS },
      { name: 'appointment_id', type: 'text[]', value: id },
    ]);
  }
}

/**
 * Another live appointment of `actor` overlapping [start, end), if there is one: those that start
 * within LONG_APPOINTMENT_MS before `end` (an index range), and the long ones. Prepared: its
 * planning cost three times its execution, and its generic plan is the same two index ranges.
 */
export async function overlappingAppointment(tx: Queryable, actor: string, id: string, start: number, end: number): Promise<string | undefined> {
  const { rows } = await tx.queryPrepared<{ appointment_id: string }>(
    `(SELECT appointment_id FROM appointment_busy
       WHERE actor = $1 AND starts > $2::timestamptz AND starts < $3::timestamptz AND ends > $4::timestamptz AND appointment_id <> $5 LIMIT 1)
     UNION ALL
     (SELECT appointment_id FROM appointment_busy
       WHERE actor = $1 AND long AND starts < $3::timestamptz AND ends > $4::timestamptz AND appointment_id <> $5 LIMIT 1)
     LIMIT 1`,
    [actor, new Date(start - LONG_APPOINTMENT_MS).toISOString(), new Date(end).toISOString(), new Date(start).toISOString(), id],
  );
  return rows[0]?.appointment_id;
}
