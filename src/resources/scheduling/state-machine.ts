import type { Appointment } from '@medplum/fhirtypes';
import { errors } from '../../errors.js';
import { INITIAL_STATUSES, TRANSITIONS } from './statuses.js';

/** The status change of one write, against the state machine (statuses.ts); 422 names what is allowed. */
export function checkTransition(id: string, previous: Appointment | undefined, next: Appointment): void {
  if (!previous) {
    if (!INITIAL_STATUSES.includes(next.status)) {
      throw errors.businessRule(
        `An appointment cannot be created as ${next.status}; it is created as one of: ${INITIAL_STATUSES.join(', ')}`,
        'Appointment.status',
      );
    }
    return;
  }
  if (previous.status === next.status) return;
  const allowed = TRANSITIONS[previous.status] ?? [];
  if (!allowed.includes(next.status)) throw errors.invalidTransition(`Appointment/${id}`, previous.status, next.status, allowed);
}

/** Cancelling says why (`cancelationReason`); an appointment entering `cancelled` without it is refused. */
export function checkCancelation(previous: Appointment | undefined, next: Appointment): void {
  if (next.status !== 'cancelled' || previous?.status === 'cancelled') return;
  const reason = next.cancelationReason;
  if (!reason || !(reason.text || reason.coding?.some((c) => c.code))) {
    throw errors.businessRule('Cancelling an appointment requires a cancelationReason', 'Appointment.cancelationReason');
  }
}
