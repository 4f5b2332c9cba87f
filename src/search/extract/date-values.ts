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

function timingRanges(timing: Timing): DateValue[] {
  const ranges = (timing.event ?? []).map(pointRange);
  if (timing.repeat?.boundsPeriod) ranges.push(periodRange(timing.repeat.boundsPeriod));
  return ranges.filter((r): r is DateValue => r !== undefined);
}

/** The ranges a date parameter indexes (search.html#date): date, dateTime, instant, Period, Timing. */
export function dateValues(value: TypedValue): DateValue[] {
  switch (value.type) {
    case 'Period': {
      const range = periodRange(value.value as Period);
      return range ? [range] : [];
    }
    case 'Timing':
      return timingRanges(value.value as Timing);
    default: {
      const range = pointRange(value.value);
      return range ? [range] : [];
    }
  }
}
