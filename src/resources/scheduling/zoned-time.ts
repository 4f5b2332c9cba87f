/** Wall-clock times in an IANA time zone, converted with the runtime's own zone data (Intl). */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, format);
  }
  return format;
}

/** Whether the runtime knows the zone (`Europe/Berlin`, `UTC`). */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The zone's offset from UTC at an instant, in milliseconds (positive east of Greenwich). */
function offsetAt(timeZone: string, epochMs: number): number {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(epochMs))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  return wall - Math.floor(epochMs / 1000) * 1000;
}

/**
 * The instant at which the wall clock of `timeZone` shows `wallMs` (a wall-clock time written as
 * if it were UTC). Two passes settle the offset around a change of daylight saving time; a wall
 * time that does not exist (skipped by the change) comes out shifted by the change.
 */
export function zonedToInstant(wallMs: number, timeZone: string): number {
  const first = wallMs - offsetAt(timeZone, wallMs);
  return wallMs - offsetAt(timeZone, first);
}
