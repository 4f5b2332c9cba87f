import type { Appointment, Slot } from '@medplum/fhirtypes';
import { errors } from '../../errors.js';
import type { Queryable, BatchedTransaction } from '../../store/index.js';
import { findAll, readResource, type SchedulingDeps } from './context.js';
import { localReference } from './references.js';
import { SLOT_USE, SLOT_USING_STATUSES, UNBOOKABLE_SLOT_STATUSES } from './statuses.js';

/**
 * The ids of the Slots an appointment names. In new content a slot reference that is not a Slot
 * of this server is refused; in stored content (written before these rules) it is passed over.
 */
export function slotIds(appointment: Appointment | undefined, baseUrl: string, strict = true): string[] {
  const ids: string[] = [];
  (appointment?.slot ?? []).forEach((reference, index) => {
    const ref = localReference(reference, baseUrl);
    if (ref?.resourceType === 'Slot') ids.push(ref.id);
    else if (strict) throw errors.businessRule(`Appointment.slot[${index}] must reference a Slot on this server`, `Appointment.slot[${index}]`);
  });
  return ids;
}

/** The appointments that use a slot now (SLOT_USE), as seen inside `tx`. */
export function appointmentsUsingSlot(deps: SchedulingDeps, tx: Queryable, slotId: string): Promise<Appointment[]> {
  return findAll<Appointment>(deps, tx, 'Appointment', [
    ['slot', `Slot/${slotId}`],
    ['status', SLOT_USING_STATUSES.join(',')],
  ]);
}

/**
 * Whether a slot may be taken by one more appointment: it is free, or overbookable and not
 * blocked by its owner. Called with the slot's lock held, so the answer stays true until commit.
 */
export function checkSlotBookable(slotId: string, slot: Slot | undefined): void {
  if (!slot) throw errors.businessRule(`Slot/${slotId} does not exist`, 'Appointment.slot');
  if (UNBOOKABLE_SLOT_STATUSES.includes(slot.status)) throw errors.slotUnavailable(`Slot/${slotId}`, slot.status);
  if (slot.status !== 'free' && !slot.overbooked) throw errors.slotTaken(`Slot/${slotId}`);
}

/**
 * Brings a slot's status in line with the appointments that use it: busy when one is booked (or
 * later), busy-tentative when only held, free when none. A slot its owner blocked
 * (busy-unavailable, entered-in-error) stays so when nothing uses it. The change is a write of
 * its own on the write path, in the same transaction (a new version, indexes, the change feed).
 */
export async function syncSlotStatus(deps: SchedulingDeps, tx: BatchedTransaction, slotId: string): Promise<void> {
  const slot = await readResource<Slot>(deps, tx, 'Slot', slotId);
  if (!slot) return;
  const users = await appointmentsUsingSlot(deps, tx, slotId);
  const uses = users.map((appointment) => SLOT_USE[appointment.status]);
  const wanted: Slot['status'] = uses.includes('busy') ? 'busy' : uses.length ? 'busy-tentative' : 'free';
  if (slot.status === wanted) return;
  if (wanted === 'free' && UNBOOKABLE_SLOT_STATUSES.includes(slot.status)) return;
  await deps.store.write(
    { operation: 'update', resourceType: 'Slot', id: slotId, next: (current) => ({ ...(current as Slot), status: wanted }) },
    tx,
  );
}
