import type { Appointment } from '@medplum/fhirtypes';
import { errors } from '../../errors.js';
import { TRANSITIONS } from './statuses.js';

/**
 * The status change of one write, against the state machine (statuses.ts); 422 names what is
 * allowed. A new Appointment may have any status: it records what is (an integrator loading past,
 * fulfilled or cancelled visits); the machine governs changes.
 */
export function checkTransition(id: string, previous: Appointment | undefined, next: Appointment): void {
  if (!previous) return;
  if (previous.status === next.status) return;
  const allowed = TRANSITIONS[previous.status] ?? [];
  if (!allowed.includes(next.status)) throw errors.invalidTransition(`Appointment/${id}`, previous.status, next.status, allowed);
}

/** Cancelling says why (`cancelationReason`); an appointment changed to `cancelled` without it is refused. */
export function checkCancelation(previous: Appointment | undefined, next: Appointment): void {
  if (next.status !== 'cancelled' || !previous || previous.status === 'cancelled') return;
  const reason = next.cancelationReason;
  if (!reason || !(reason.text || reason.coding?.some((c) => c.code))) {
    throw errors.businessRule('Cancelling an appointment requires a cancelationReason', 'Appointment.cancelationReason');
  }
}
