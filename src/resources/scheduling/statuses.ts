import type { Appointment, Slot } from '@medplum/fhirtypes';

export type AppointmentStatus = Appointment['status'];
export type SlotStatus = Slot['status'];


/**
 * The Appointment state machine (appointment.html#statuses, with the R4 `checked-in`): from each
 * status, the statuses it may move to. Keeping the status is always allowed. `fulfilled`,
 * `cancelled` and `noshow` end the workflow; only `entered-in-error` may still correct them.
 */
export const TRANSITIONS: Readonly<Record<AppointmentStatus, readonly AppointmentStatus[]>> = {
  proposed: ['pending', 'booked', 'waitlist', 'cancelled', 'entered-in-error'],
  waitlist: ['proposed', 'pending', 'booked', 'cancelled', 'entered-in-error'],
  pending: ['booked', 'cancelled', 'entered-in-error'],
  booked: ['arrived', 'checked-in', 'fulfilled', 'noshow', 'cancelled', 'entered-in-error'],
  arrived: ['checked-in', 'fulfilled', 'entered-in-error'],
  'checked-in': ['arrived', 'fulfilled', 'entered-in-error'],
  fulfilled: ['entered-in-error'],
  cancelled: ['entered-in-error'],
  noshow: ['entered-in-error'],
  'entered-in-error': [],
};

/**
 * What an Appointment in each status does to its slots. A pending appointment (a hold, or one
 * waiting for its participants) holds them tentatively; from booked on they are busy. `fulfilled`
 * and `noshow` keep them busy: the time was given to this patient and has passed or is being
 * passed, and a no-show is recorded against the slot it wasted. `cancelled` and
 * `entered-in-error` free them; `proposed` and `waitlist` never took them.
 */
export const SLOT_USE: Readonly<Partial<Record<AppointmentStatus, 'busy' | 'busy-tentative'>>> = {
  pending: 'busy-tentative',
  booked: 'busy',
  arrived: 'busy',
  'checked-in': 'busy',
  fulfilled: 'busy',
  noshow: 'busy',
};

/** Statuses of appointments that are still to happen or happening: these must not overlap for one practitioner. */
export const LIVE_STATUSES: readonly AppointmentStatus[] = ['pending', 'booked', 'arrived', 'checked-in'];

/** Statuses whose appointments use their slots (SLOT_USE's keys). */
export const SLOT_USING_STATUSES = Object.keys(SLOT_USE) as AppointmentStatus[];

/** What a patient may set an appointment to: booking, holding and cancelling their own; the rest is the clinic's. */
export const PATIENT_STATUSES: readonly AppointmentStatus[] = ['proposed', 'pending', 'booked', 'waitlist', 'cancelled'];

/** Slot statuses the owner sets that no booking may take. */
export const UNBOOKABLE_SLOT_STATUSES: readonly SlotStatus[] = ['busy-unavailable', 'entered-in-error'];

export function usesSlots(status: AppointmentStatus | undefined): boolean {
  return status !== undefined && SLOT_USE[status] !== undefined;
}

export function isLive(status: AppointmentStatus | undefined): boolean {
  return status !== undefined && LIVE_STATUSES.includes(status);
}
