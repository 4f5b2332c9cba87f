import type { PractitionerRoleAvailableTime, PractitionerRoleNotAvailable } from '@medplum/fhirtypes';
import { zonedToInstant } from './zoned-time.js';

/** The weekdays as FHIR codes, by `Date.getUTCDay()`. */
const DAY_CODES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const DAY_MS = 24 * 3600 * 1000;

export interface SlotPlanRequest {
  /** First and last day (inclusive), `YYYY-MM-DD`, in `timeZone`. */
  startDate: string;
  endDate: string;
  slotMinutes: number;
  timeZone: string;
  /** Weekly availability, as PractitionerRole.availableTime. */
  availableTime: PractitionerRoleAvailableTime[];
  /** Periods without availability, as PractitionerRole.notAvailable. */
  notAvailable: PractitionerRoleNotAvailable[];
}

export interface PlannedSlot {
  start: number;
  end: number;
}

/** `HH:MM[:SS]` as milliseconds after midnight. */
function timeOfDay(time: string | undefined, fallback: number): number {
  if (!time) return fallback;
  const [hours, minutes, seconds] = time.split(':').map(Number);
  return ((hours * 60 + minutes) * 60 + (seconds || 0)) * 1000;
}

/** `YYYY-MM-DD` as the UTC midnight of that calendar day (a wall-clock day, not an instant). */
export function dayMs(date: string): number {
  return Date.parse(`${date}T00:00:00Z`);
}

function blocked(slot: PlannedSlot, periods: { start: number; end: number }[]): boolean {
  return periods.some((period) => slot.start < period.end && slot.end > period.start);
}

/**
 * The slots that weekly availability gives over a range of days: each day's available windows
 * (wall-clock times in the zone; an end before the start runs past midnight; `allDay` is the whole
 * day) cut into slots of the given length, a last piece shorter than that left out, minus those
 * touching a not-available period, each slot once (overlapping windows give no overlapping slots).
 * Pure: the same request always gives the same slots, which makes generation idempotent.
 */
export function plannedSlots(request: SlotPlanRequest): PlannedSlot[] {
  const length = request.slotMinutes * 60 * 1000;
  const unavailable = request.notAvailable
    .filter((period) => period.during?.start || period.during?.end)
    .map((period) => ({
      start: period.during?.start ? Date.parse(period.during.start) : -Infinity,
      end: period.during?.end ? Date.parse(period.during.end) : Infinity,
    }));
  const slots: PlannedSlot[] = [];
  for (let day = dayMs(request.startDate); day <= dayMs(request.endDate); day += DAY_MS) {
    const code = DAY_CODES[new Date(day).getUTCDay()];
    for (const available of request.availableTime) {
      if (!available.daysOfWeek?.includes(code)) continue;
      const from = available.allDay ? 0 : timeOfDay(available.availableStartTime, 0);
      let to = available.allDay ? DAY_MS : timeOfDay(available.availableEndTime, DAY_MS);
      if (to <= from) to += DAY_MS;
      for (let wall = day + from; wall + length <= day + to; wall += length) {
        const slot = { start: zonedToInstant(wall, request.timeZone), end: zonedToInstant(wall + length, request.timeZone) };
        if (slot.end > slot.start && !blocked(slot, unavailable)) slots.push(slot);
      }
    }
  }
  slots.sort((a, b) => a.start - b.start || a.end - b.end);
  const distinct: PlannedSlot[] = [];
  for (const slot of slots) if (!blocked(slot, distinct.slice(-1))) distinct.push(slot);
  return distinct;
}

/** An instant as FHIR writes it, without needless milliseconds. */
export function instantText(epochMs: number): string {
  return new Date(epochMs).toISOString().replace('.000Z', 'Z');
}
