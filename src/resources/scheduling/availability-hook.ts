import type { Schedule, Slot } from '@medplum/fhirtypes';
import { errors } from '../../errors.js';
import type { AccessPolicy } from '../../smart-auth/index.js';
import type { Queryable, WriteHook } from '../../store/index.js';
import { readResource, type SchedulingDeps } from './context.js';
import { localReference } from './references.js';
import { mayManageSchedule } from './requester.js';
import { appointmentsUsingSlot } from './slots.js';

async function requireScheduleManager(deps: SchedulingDeps, tx: Queryable, access: AccessPolicy, schedule: Schedule, name: string): Promise<void> {
  if (!(await mayManageSchedule(deps, tx, access, schedule))) {
    throw errors.forbidden(`Only the owner of ${name} (its actor, as the user's fhirUser) or an admin may change its availability`);
  }
}

async function scheduleOfSlot(deps: SchedulingDeps, tx: Queryable, slot: Slot): Promise<{ schedule: Schedule; name: string }> {
  const ref = localReference(slot.schedule, deps.baseUrl);
  if (ref?.resourceType !== 'Schedule') throw errors.businessRule('Slot.schedule must reference a Schedule on this server', 'Slot.schedule');
  const schedule = await readResource<Schedule>(deps, tx, 'Schedule', ref.id);
  if (!schedule) throw errors.businessRule(`Slot.schedule: Schedule/${ref.id} does not exist`, 'Slot.schedule');
  return { schedule, name: `Schedule/${ref.id}` };
}

/** Whether a change of a slot would pull it from under the appointments that use it. */
function movesBooking(previous: Slot, next: Slot | undefined): boolean {
  return (
    !next ||
    next.status !== previous.status ||
    next.start !== previous.start ||
    next.end !== previous.end ||
    next.schedule?.reference !== previous.schedule?.reference
  );
}

/**
 * Availability belongs to the schedule's owner: a Schedule, and the Slots of a Schedule, are
 * written by an admin or by the user whose fhirUser is the schedule's actor (before and after the
 * change, so nobody moves a schedule or a slot to someone else's). A slot that appointments use
 * keeps its status and time, and is not deleted, until they are cancelled or moved. The server's
 * own writes (booking changing a slot's status) carry no access policy and are not limited here.
 */
export function availabilityHook(deps: SchedulingDeps): WriteHook {
  return {
    name: 'availability-owner',
    beforeWrite: async (tx, change) => {
      const access = change.access;
      if (!access) return;
      if (change.resourceType === 'Schedule') {
        for (const schedule of [change.previous, change.resource] as (Schedule | undefined)[]) {
          if (schedule) await requireScheduleManager(deps, tx, access, schedule, `Schedule/${change.id}`);
        }
      } else if (change.resourceType === 'Slot') {
        const previous = change.previous as Slot | undefined;
        const next = change.resource as Slot | undefined;
        for (const slot of [previous, next]) {
          if (!slot) continue;
          const { schedule, name } = await scheduleOfSlot(deps, tx, slot);
          await requireScheduleManager(deps, tx, access, schedule, name);
        }
        if (previous && movesBooking(previous, next)) {
          const users = await appointmentsUsingSlot(deps, tx, change.id);
          if (users.length) throw errors.slotInUse(`Slot/${change.id}`, users.map((a) => `Appointment/${a.id}`));
        }
      }
    },
  };
}
