import { errors } from '../../../errors.js';

/** A dateTime parameter (with a time zone when it has a time) as epoch milliseconds. */
export function dateTimeValue(name: string, value: string): number {
  const valid = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(value);
  const ms = valid ? Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value) : NaN;
  if (Number.isNaN(ms)) throw errors.badRequest(`Parameter "${name}" must be a date or a dateTime with a time zone, not "${value}"`);
  return ms;
}
