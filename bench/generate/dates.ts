/**
 * The day generated schedules revolve around: Appointments fall within a year before it and two
 * months after it, Slots in the four weeks after it. Fixed, so that data is the same every run.
 */
export const ANCHOR_DATE = '2025-03-03';

const FHIR_DATE = /^(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?$/;

/** `YYYY-MM-DD` plus `days`, in the calendar (no time zone is involved). */
export function addDays(date: string, days: number): string {
  const [year, month, day] = date.split('-').map(Number);
  return new Date(Date.UTC(year, month - 1, day + days)).toISOString().slice(0, 10);
}

/**
 * A FHIR date, dateTime or instant moved by whole days, keeping its precision, time and offset.
 * Anything else comes back unchanged.
 */
export function shiftDateString(text: string, days: number): string {
  const match = FHIR_DATE.exec(text);
  if (!match) return text;
  return addDays(`${match[1]}-${match[2]}-${match[3]}`, days) + (match[4] ?? '');
}
