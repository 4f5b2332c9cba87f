import type { Appointment, Slot } from '@medplum/fhirtypes';
import { errors } from '../../errors.js';
import type { Change, Queryable, WriteHook } from '../../store/index.js';
import { overlappingAppointment, recordBusyTimes } from './busy-times.js';
import { readResource, type SchedulingDeps } from './context.js';
import { holdExpiry, releaseHold } from './holds.js';
import { localReference, referenceText, sortedUnique } from './references.js';
import { actingPatient } from './requester.js';
import { checkSlotBookable, slotIds, syncSlotStatus } from './slots.js';
import { checkCancelation, checkTransition } from './state-machine.js';
import { isLive, PATIENT_STATUSES, usesSlots } from './statuses.js';

const SCHEDULED_ACTOR_TYPES = new Set(['Practitioner', 'PractitionerRole']);

/** The slots an appointment uses in its status (none for proposed, waitlist, cancelled...). */
function usedSlots(appointment: Appointment | undefined, baseUrl: string, strict: boolean): string[] {
  return appointment && usesSlots(appointment.status) ? slotIds(appointment, baseUrl, strict) : [];
}

/** The practitioners (and roles) taking part, who cannot be in two places at once. */
function scheduledActors(appointment: Appointment | undefined, baseUrl: string): string[] {
  const actors: string[] = [];
  for (const participant of appointment?.participant ?? []) {
    if (participant.status === 'declined') continue;
    const ref = localReference(participant.actor, baseUrl);
    if (ref && SCHEDULED_ACTOR_TYPES.has(ref.resourceType)) actors.push(referenceText(ref));
  }
  return sortedUnique(actors);
}

/**
 * A requester confined to one patient (a patient, or an app launched for one) books only for that
 * patient; a patient user also keeps to the patient's part of the workflow (not arrival, not outcome).
 */
function checkPatientRequester(change: Change, previous: Appointment | undefined, next: Appointment): void {
  const patient = actingPatient(change.access, 'Appointment', previous ? 'u' : 'c');
  if (!patient) return;
  for (const participant of next.participant ?? []) {
    const actor = participant.actor?.reference;
    if (actor?.startsWith('Patient/') && actor !== `Patient/${patient}`) {
      throw errors.forbidden(`A patient may book, change and cancel only their own appointments; ${actor} is not the patient of this access token`);
    }
  }
  if (change.access?.role === 'patient' && next.status !== previous?.status && !PATIENT_STATUSES.includes(next.status)) {
    throw errors.forbidden(`A patient may set an appointment only to ${PATIENT_STATUSES.join(', ')}; ${next.status} is for the clinic`);
  }
}

/** An expired hold is over: its appointment may only be cancelled (the sweeper does that too). */
async function checkHold(tx: Queryable, id: string, previous: Appointment | undefined, next: Appointment | undefined): Promise<void> {
  if (previous?.status !== 'pending' || !next || next.status === 'cancelled' || next.status === 'entered-in-error') return;
  const expiry = await holdExpiry(tx, id);
  if (expiry && expiry.getTime() <= Date.now()) throw errors.holdExpired(`Appointment/${id}`, expiry.toISOString());
}

/**
 * No practitioner in two live appointments at overlapping times, unless the new appointment's slot
 * is overbookable. A lock per practitioner (after the slot locks, in sorted order) makes the check
 * and the write one step for every process: two bookings for one practitioner at one time, through
 * different slots or none, cannot both pass.
 */
async function checkNoOverlap(deps: SchedulingDeps, tx: Queryable, id: string, previous: Appointment | undefined, next: Appointment): Promise<void> {
  if (!isLive(next.status) || !next.start || !next.end) return;
  const actors = scheduledActors(next, deps.baseUrl);
  const before = new Set(isLive(previous?.status) ? scheduledActors(previous, deps.baseUrl) : []);
  const sameTime = previous?.start === next.start && previous?.end === next.end;
  const toCheck = sameTime && isLive(previous?.status) ? actors.filter((actor) => !before.has(actor)) : actors;
  const start = Date.parse(next.start);
  const end = Date.parse(next.end);
  for (const actor of toCheck) {
    await deps.store.lockKey(tx, `appointment-time:${actor}`);
    const clash = await overlappingAppointment(tx, actor, id, start, end);
    if (clash) throw errors.appointmentOverlap(actor, `Appointment/${clash}`);
  }
}

/**
 * The booking rules on the write path, for every write of an Appointment (REST, transaction
 * entries, $hold, $book, AppointmentResponse, the hold sweeper): the state machine, the
 * requester's limits, and no double booking. Each slot the change touches is locked with the
 * write path's own per-resource lock, in sorted order (no deadlocks between bookings), before its
 * status is read: of concurrent bookings of one slot, in any processes, the first to lock it wins
 * and the others read it taken (409). After the write, the slots' statuses follow the appointment.
 */
export function appointmentHook(deps: SchedulingDeps): WriteHook {
  return {
    name: 'appointment-booking',
    beforeWrite: async (tx, change) => {
      if (change.resourceType !== 'Appointment') return;
      const previous = change.previous as Appointment | undefined;
      const next = change.resource as Appointment | undefined;
      if (next) {
        checkTransition(change.id, previous, next);
        checkCancelation(previous, next);
        checkPatientRequester(change, previous, next);
      }
      await checkHold(tx, change.id, previous, next);

      const before = usedSlots(previous, deps.baseUrl, false);
      const after = usedSlots(next, deps.baseUrl, true);
      const taking = after.filter((id) => !before.includes(id));
      const slots = new Map<string, Slot | undefined>();
      for (const id of sortedUnique([...before, ...after])) {
        await deps.store.lock(tx, 'Slot', id);
        slots.set(id, await readResource<Slot>(deps, tx, 'Slot', id));
      }
      for (const id of sortedUnique(taking)) checkSlotBookable(id, slots.get(id));

      if (next && !after.some((id) => slots.get(id)?.overbooked)) await checkNoOverlap(deps, tx, change.id, previous, next);
    },
    afterWrite: async (tx, change) => {
      if (change.resourceType !== 'Appointment') return;
      const previous = change.previous as Appointment | undefined;
      const next = change.resource as Appointment | undefined;
      for (const id of sortedUnique([...usedSlots(previous, deps.baseUrl, false), ...usedSlots(next, deps.baseUrl, false)])) {
        await syncSlotStatus(deps, tx, id);
      }
      if (next?.status !== 'pending') releaseHold(tx, change.id);
      recordBusyTimes(tx, change.id, next, scheduledActors(next, deps.baseUrl), isLive(next?.status));
    },
  };
}
