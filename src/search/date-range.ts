/** A half-open instant range [start, end): the implicit range of a FHIR date, dateTime or instant. */
export interface DateRange {
  start: Date;
  end: Date;
}

const DATE_PATTERN =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/**
 * Parses a FHIR date/dateTime/instant into the range it stands for (search.html#date): `2024` is
 * the whole year, `2024-03-05T10:00` the whole minute. A time without zone is taken as UTC.
 * Returns undefined when the value is not a valid date.
 */
export function parseDateRange(value: string): DateRange | undefined {
  const match = DATE_PATTERN.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = match;
  const year = Number(y);
  const month = mo ? Number(mo) - 1 : 0;
  const day = d ? Number(d) : 1;
  if (month > 11 || day < 1 || day > 31 || Number(h ?? 0) > 23 || Number(mi ?? 0) > 59 || Number(s ?? 0) > 59) return undefined;
  const offsetMinutes = zone && zone !== 'Z' ? (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) : 0;
  const fractionMs = frac ? Number(frac.padEnd(3, '0').slice(0, 3)) : 0;
  const startUtc = Date.UTC(year, month, day, Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0), fractionMs) - offsetMinutes * 60_000;
  const start = new Date(startUtc);
  if (d && start.getUTCDate() !== day && !h) return undefined;
  let end: Date;
  if (!mo) end = new Date(Date.UTC(year + 1, 0, 1));
  else if (!d) end = new Date(Date.UTC(year, month + 1, 1));
  else if (!h) end = new Date(Date.UTC(year, month, day + 1));
  else if (!s) end = new Date(startUtc + 60_000);
  else if (!frac) end = new Date(startUtc + 1000);
  else end = new Date(startUtc + Math.max(1, 10 ** (3 - Math.min(frac.length, 3))));
  return { start, end };
}
