/** A half-open instant range [start, end): the implicit range of a FHIR date, dateTime or instant. */
export interface DateRange {
  start: Date;
  end: Date;
}

const DATE_PATTERN =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** Days in a month (1-12) of a year, leap years included. */
function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** A zone offset in minutes, or undefined when it is not one (xs:dateTime allows -14:00 to +14:00). */
function zoneOffsetMinutes(zone: string | undefined): number | undefined {
  if (!zone || zone === 'Z') return 0;
  const hours = Number(zone.slice(1, 3));
  const minutes = Number(zone.slice(4, 6));
  if (minutes > 59 || hours * 60 + minutes > 14 * 60) return undefined;
  return (zone[0] === '-' ? -1 : 1) * (hours * 60 + minutes);
}

/**
 * A `+` zone sent unencoded in a query string (a search value, `_since`) arrives as a space (`2024-01-01T10:00:00 05:00`): a
 * space can stand for nothing else there, so it is read as the `+` the client meant.
 */
export function withPlusZone(date: string): string {
  return date.replace(/(T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:\d\d)$/, '$1+$2');
}

/**
 * Parses a FHIR date/dateTime/instant into the range it stands for (search.html#date): `2024` is
 * the whole year, `2024-03-05T10:00` the whole minute. A time without zone is taken as UTC.
 * Returns undefined when the value is not a valid date: each field is checked against the calendar
 * (month 01-12, the month's days, leap years; hour 00-23; minute and second 00-59; zone within ±14:00).
 */
export function parseDateRange(value: string): DateRange | undefined {
  const match = DATE_PATTERN.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = match;
  const year = Number(y);
  const month = mo ? Number(mo) : 1;
  const day = d ? Number(d) : 1;
  const hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(s ?? 0);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const offsetMinutes = zoneOffsetMinutes(zone);
  if (offsetMinutes === undefined) return undefined;
  const fractionMs = frac ? Number(frac.padEnd(3, '0').slice(0, 3)) : 0;
  const startUtc = Date.UTC(year, month - 1, day, hour, minute, second, fractionMs) - offsetMinutes * 60_000;
  const start = new Date(startUtc);
  let end: Date;
  if (!mo) end = new Date(Date.UTC(year + 1, 0, 1));
  else if (!d) end = new Date(Date.UTC(year, month, 1));
  else if (!h) end = new Date(Date.UTC(year, month - 1, day + 1));
  else if (!s) end = new Date(startUtc + 60_000);
  else if (!frac) end = new Date(startUtc + 1000);
  else end = new Date(startUtc + Math.max(1, 10 ** (3 - Math.min(frac.length, 3))));
  return { start, end };
}
