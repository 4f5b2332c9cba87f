import { createHash } from 'node:crypto';
import type {
  Parameters,
  ParametersParameter,
  PractitionerRole,
  PractitionerRoleAvailableTime,
  PractitionerRoleNotAvailable,
  Schedule,
  Slot,
} from '@medplum/fhirtypes';
import { errors } from '../../../errors.js';
import { readableCurrent, requirePermission } from '../../../fhir/access-checks.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../../../fhir/types.js';
import { write } from '../../../fhir/write.js';
import type { Queryable } from '../../../store/index.js';
import { findAll, readResource } from '../context.js';
import { localReference } from '../references.js';
import { mayManageSchedule } from '../requester.js';
import { Scheduling } from '../scheduling.js';
import { dayMs, instantText, plannedSlots, type PlannedSlot } from '../slot-plan.js';
import { isTimeZone } from '../zoned-time.js';
import { OperationInput } from '../../../fhir/operations/parameters.js';

const MAX_DAYS = 366;
const MAX_SLOTS = 5000;
const DAY_CODES = new Set(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
const TIME = /^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/;

function part(p: ParametersParameter, name: string): ParametersParameter[] {
  return p.part?.filter((q) => q.name === name) ?? [];
}

/** `availableTime` parameters: the parts of PractitionerRole.availableTime. */
function availableTimes(input: OperationInput): PractitionerRoleAvailableTime[] {
  return input.parameters('availableTime').map((p, index) => {
    const days = part(p, 'daysOfWeek').map((q) => q.valueCode ?? '');
    if (!days.length || days.some((d) => !DAY_CODES.has(d))) {
      throw errors.badRequest(`availableTime[${index}] needs daysOfWeek, each one of mon, tue, wed, thu, fri, sat, sun`);
    }
    const allDay = part(p, 'allDay')[0]?.valueBoolean;
    const availableStartTime = part(p, 'availableStartTime')[0]?.valueTime;
    const availableEndTime = part(p, 'availableEndTime')[0]?.valueTime;
    for (const time of [availableStartTime, availableEndTime]) {
      if (time !== undefined && !TIME.test(time)) throw errors.badRequest(`availableTime[${index}]: "${time}" is not a time (HH:MM:SS)`);
    }
    if (!allDay && (!availableStartTime || !availableEndTime)) {
      throw errors.badRequest(`availableTime[${index}] needs availableStartTime and availableEndTime, or allDay`);
    }
    return { daysOfWeek: days as PractitionerRoleAvailableTime['daysOfWeek'], allDay, availableStartTime, availableEndTime };
  });
}

function notAvailables(input: OperationInput): PractitionerRoleNotAvailable[] {
  return input.parameters('notAvailable').map((p, index) => {
    const during = part(p, 'during')[0]?.valuePeriod;
    if (!during?.start && !during?.end) throw errors.badRequest(`notAvailable[${index}] needs during (a Period)`);
    return { description: part(p, 'description')[0]?.valueString ?? 'not available', during };
  });
}

/** The weekly availability of the schedule's PractitionerRole actors, for when the request gives none. */
async function roleAvailability(context: InteractionContext, tx: Queryable, schedule: Schedule) {
  const deps = Scheduling.of(context.store).deps;
  const availableTime: PractitionerRoleAvailableTime[] = [];
  const notAvailable: PractitionerRoleNotAvailable[] = [];
  for (const actor of schedule.actor ?? []) {
    const ref = localReference(actor, context.baseUrl);
    if (ref?.resourceType !== 'PractitionerRole') continue;
    const role = await readResource<PractitionerRole>(deps, tx, 'PractitionerRole', ref.id);
    availableTime.push(...(role?.availableTime ?? []));
    notAvailable.push(...(role?.notAvailable ?? []));
  }
  return { availableTime, notAvailable };
}

/** The same schedule and times always give the same id: running the generation again finds what it made. */
function slotId(scheduleId: string, slot: PlannedSlot): string {
  return createHash('sha256').update(`Schedule/${scheduleId}|${slot.start}|${slot.end}`).digest('hex').slice(0, 40);
}

function dateParameter(input: OperationInput, name: string): string {
  const value = input.required(name);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(dayMs(value))) throw errors.badRequest(`Parameter "${name}" must be a date (YYYY-MM-DD), not "${value}"`);
  return value;
}

function result(created: string[], existing: number): Parameters {
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'created', valueInteger: created.length },
      { name: 'existing', valueInteger: existing },
      ...created.map((id) => ({ name: 'slot', valueReference: { reference: `Slot/${id}` } })),
    ],
  };
}

/**
 * `Schedule/[id]/$generate-slots` (our own operation, OperationDefinition/generate-slots): free
 * Slots of the given length for every day of [start, end] from the weekly availability given (or
 * the schedule's PractitionerRole's availableTime and notAvailable). Idempotent: a slot that
 * overlaps one the schedule already has (from an earlier run, or made by hand, in any status) is
 * not made again. Only the schedule's owner or an admin may run it; runs on one schedule are
 * serialised, and all its slots are written in one transaction.
 */
export async function generateSlotsOperation(request: FhirRequest, context: InteractionContext, scheduleId: string): Promise<FhirResponse> {
  const input = new OperationInput(request);
  const startDate = dateParameter(input, 'start');
  const endDate = dateParameter(input, 'end');
  if (dayMs(endDate) < dayMs(startDate)) throw errors.badRequest('Parameter "end" must not be before "start"');
  if ((dayMs(endDate) - dayMs(startDate)) / 86_400_000 + 1 > MAX_DAYS) throw errors.badRequest(`At most ${MAX_DAYS} days at a time`);
  const minutesText = input.required('slot-minutes');
  const slotMinutes = Number(minutesText);
  if (!Number.isInteger(slotMinutes) || slotMinutes < 1 || slotMinutes > 1440) {
    throw errors.badRequest(`Parameter "slot-minutes" must be a whole number of minutes from 1 to 1440, not "${minutesText}"`);
  }
  const timeZone = input.value('timezone') ?? 'UTC';
  if (!isTimeZone(timeZone)) throw errors.badRequest(`Parameter "timezone" must be an IANA time zone (Europe/Berlin), not "${timeZone}"`);
  const overbooked = input.value('overbooked') === 'true';
  const givenTimes = availableTimes(input);
  const givenNotAvailable = notAvailables(input);
  requirePermission(context, 'Slot', 'c');
  const deps = Scheduling.of(context.store).deps;

  return context.store.inTransaction(context.tx, async (tx) => {
    const inTx = { ...context, tx };
    const stored = await readableCurrent(inTx, 'Schedule', scheduleId);
    if (stored.deleted) throw errors.gone('Schedule', scheduleId, stored.versionId);
    const schedule = JSON.parse(stored.json as string) as Schedule;
    if (!(await mayManageSchedule(deps, tx, context.access, schedule))) {
      throw errors.forbidden(`Only the owner of Schedule/${scheduleId} (its actor, as the user's fhirUser) or an admin may change its availability`);
    }
    await context.store.lockKey(tx, `generate-slots:Schedule/${scheduleId}`);

    const fromRole = givenTimes.length ? undefined : await roleAvailability(inTx, tx, schedule);
    const availableTime = fromRole?.availableTime ?? givenTimes;
    if (!availableTime.length) {
      throw errors.badRequest('Give availableTime, or make a PractitionerRole with availableTime an actor of the Schedule');
    }
    const planned = plannedSlots({
      startDate,
      endDate,
      slotMinutes,
      timeZone,
      availableTime,
      notAvailable: [...givenNotAvailable, ...(fromRole?.notAvailable ?? [])],
    });
    if (planned.length > MAX_SLOTS) throw errors.badRequest(`That makes ${planned.length} slots; at most ${MAX_SLOTS} at a time: use a shorter range`);

    const first = planned[0]?.start ?? 0;
    const last = planned[planned.length - 1]?.end ?? 0;
    const existing = planned.length
      ? await findAll<Slot>(deps, tx, 'Slot', [
          ['schedule', `Schedule/${scheduleId}`],
          ['start', `ge${instantText(first - 86_400_000)}`],
          ['start', `lt${instantText(last)}`],
        ], 100_000)
      : [];
    const taken = existing.map((slot) => ({ start: Date.parse(slot.start), end: Date.parse(slot.end) }));
    const created: string[] = [];
    let skipped = 0;
    for (const slot of planned) {
      if (taken.some((t) => slot.start < t.end && slot.end > t.start)) {
        skipped++;
        continue;
      }
      const id = slotId(scheduleId, slot);
      const content: Slot = {
        resourceType: 'Slot',
        id,
        schedule: { reference: `Schedule/${scheduleId}` },
        status: 'free',
        start: instantText(slot.start),
        end: instantText(slot.end),
        ...(schedule.serviceCategory ? { serviceCategory: schedule.serviceCategory } : {}),
        ...(schedule.serviceType ? { serviceType: schedule.serviceType } : {}),
        ...(schedule.specialty ? { specialty: schedule.specialty } : {}),
        ...(overbooked ? { overbooked: true } : {}),
      };
      await write(inTx, { operation: 'update', resourceType: 'Slot', id, next: () => content });
      created.push(id);
    }
    return { status: 200, body: result(created, skipped) };
  });
}
