import type { TypedValue } from '@medplum/core';
import type { Period, Timing } from '@medplum/fhirtypes';
import { parseDateRange } from '../date-range.js';
import type { DateRow } from './rows.js';

export type DateValue = Omit<DateRow, 'param'>;

function pointRange(text: unknown): DateValue | undefined {
  const range = typeof text === 'string' ? parseDateRange(text) : undefined;
  return range && { low: range.start.toISOString(), high: range.end.toISOString() };
}

/** A Period is the range from the start of its start to the end of its end; a missing end is open. */
function periodRange(period: Period): DateValue | undefined {
  if (!period.start && !period.end) return undefined;
  return {
    low: period.start ? (pointRange(period.start)?.low ?? '-infinity') : '-infinity',
    high: period.end ? (pointRange(period.end)?.high ?? 'infinity') : 'infinity',
  };
}

/**
 * A Timing is one range, its outer limits: from the earliest of its events and bounds to the latest
 * (search.html#date: "the specified scheduling details are ignored and only the outer limits matter").
 * Indexing each event on its own would make `eq` match the day of one event, and `sa`/`eb` a
 * schedule that started before / ends after the search value. Without events or a boundsPeriod
 * (a frequency alone, or boundsDuration/boundsRange) it has no dates to search.
 */
function timingRange(timing: Timing): DateValue | undefined {
  const ranges = (timing.event ?? []).map(pointRange);
  if (timing.repeat?.boundsPeriod) ranges.push(periodRange(timing.repeat.boundsPeriod));
  const known = ranges.filter((r): r is DateValue => r !== undefined);
  if (known.length === 0) return undefined;
  // The bounds are ISO instants in UTC (or ±infinity), so they compare as Dates, infinities aside.
  const time = (bound: string) => (bound === '-infinity' ? -Infinity : bound === 'infinity' ? Infinity : Date.parse(bound));
  const low = known.reduce((min, r) => (time(r.low) < time(min) ? r.low : min), known[0].low);
  const high = known.reduce((max, r) => (time(r.high) > time(max) ? r.high : max), known[0].high);
  return { low, high };
}

/** The ranges a date parameter indexes (search.html#date): date, dateTime, instant, Period, Timing. */
export function dateValues(value: TypedValue): DateValue[] {
  switch (value.type) {
    case 'Period': {
      const range = periodRange(value.value as Period);
      return range ? [range] : [];
    }
    case 'Timing': {
      const range = timingRange(value.value as Timing);
      return range ? [range] : [];
    }
    default: {
      const range = pointRange(value.value);
      return range ? [range] : [];
    }
  }
}
