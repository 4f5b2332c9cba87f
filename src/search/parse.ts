import { errors } from '../errors.js';

/** Splits a value list on commas that are not escaped with a backslash (search.html#escaping). */
export function splitValues(value: string): string[] {
  const values: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    const char = value[i];
    if (char === '\\' && i + 1 < value.length && (value[i + 1] === ',' || value[i + 1] === '\\')) {
      current += value[++i];
    } else if (char === ',') {
      values.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  values.push(current);
  return values;
}

export function parseCount(value: string | null, fallback: number, max: number): number {
  if (value === null || value === '') return fallback;
  const count = Number(value);
  if (!Number.isInteger(count) || count < 0) throw errors.invalidSearchValue('_count', value, 'expected a non-negative integer');
  return Math.min(count, max);
}
