import { describe, expect, it } from 'vitest';
import { plannedSlots, type SlotPlanRequest } from '../../../src/resources/index.js';

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

function plan(request: Partial<SlotPlanRequest>): string[] {
  return plannedSlots({
    startDate: '2031-03-03',
    endDate: '2031-03-03',
    slotMinutes: 60,
    timeZone: 'UTC',
    availableTime: [],
    notAvailable: [],
    ...request,
  }).map((slot) => `${iso(slot.start)}/${iso(slot.end)}`);
}

/** The pure planning behind $generate-slots: weekly hours, time zones, exclusions. */
describe('planned slots', () => {
  it('gives nothing without availability on that weekday', () => {
    expect(plan({ availableTime: [{ daysOfWeek: ['tue'], availableStartTime: '09:00:00', availableEndTime: '12:00:00' }] })).toEqual([]);
  });

  it('cuts a window into whole slots, leaving a shorter remainder out', () => {
    expect(plan({ slotMinutes: 40, availableTime: [{ daysOfWeek: ['mon'], availableStartTime: '09:00:00', availableEndTime: '11:00:00' }] })).toEqual([
      '2031-03-03T09:00:00Z/2031-03-03T09:40:00Z',
      '2031-03-03T09:40:00Z/2031-03-03T10:20:00Z',
      '2031-03-03T10:20:00Z/2031-03-03T11:00:00Z',
    ]);
    expect(plan({ slotMinutes: 50, availableTime: [{ daysOfWeek: ['mon'], availableStartTime: '09:00', availableEndTime: '11:00' }] })).toHaveLength(2);
  });

  it('reads times as wall-clock times of the zone, across a daylight saving change', () => {
    const ny = (date: string) =>
      plan({ startDate: date, endDate: date, timeZone: 'America/New_York', availableTime: [{ daysOfWeek: ['sun', 'mon', 'sat'], availableStartTime: '09:00:00', availableEndTime: '10:00:00' }] });
    expect(ny('2031-03-08')).toEqual(['2031-03-08T14:00:00Z/2031-03-08T15:00:00Z']); // EST, UTC-5
    expect(ny('2031-03-10')).toEqual(['2031-03-10T13:00:00Z/2031-03-10T14:00:00Z']); // EDT, UTC-4
    expect(plan({ timeZone: 'Asia/Kolkata', availableTime: [{ daysOfWeek: ['mon'], availableStartTime: '09:30:00', availableEndTime: '10:30:00' }] })).toEqual([
      '2031-03-03T04:00:00Z/2031-03-03T05:00:00Z',
    ]);
  });

  it('runs a window whose end is before its start past midnight; allDay is the whole day', () => {
    expect(plan({ slotMinutes: 120, availableTime: [{ daysOfWeek: ['mon'], availableStartTime: '22:00:00', availableEndTime: '02:00:00' }] })).toEqual([
      '2031-03-03T22:00:00Z/2031-03-04T00:00:00Z',
      '2031-03-04T00:00:00Z/2031-03-04T02:00:00Z',
    ]);
    expect(plan({ slotMinutes: 480, availableTime: [{ daysOfWeek: ['mon'], allDay: true }] })).toHaveLength(3);
  });

  it('leaves out slots touching a not-available period, and makes overlapping windows into one set of slots', () => {
    expect(
      plan({
        availableTime: [
          { daysOfWeek: ['mon'], availableStartTime: '09:00:00', availableEndTime: '12:00:00' },
          { daysOfWeek: ['mon'], availableStartTime: '10:00:00', availableEndTime: '13:00:00' },
        ],
        notAvailable: [{ description: 'lunch', during: { start: '2031-03-03T11:30:00Z', end: '2031-03-03T12:00:00Z' } }],
      }),
    ).toEqual(['2031-03-03T09:00:00Z/2031-03-03T10:00:00Z', '2031-03-03T10:00:00Z/2031-03-03T11:00:00Z', '2031-03-03T12:00:00Z/2031-03-03T13:00:00Z']);
  });
});
