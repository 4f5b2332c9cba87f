import { errors } from '../errors.js';

/** One search criterion: `name[:modifier]=v1,v2` (the values are ORed; repeated criteria are ANDed). */
export interface Criterion {
  name: string;
  modifier?: string;
  values: string[];
}

/** Result parameters: they shape the Bundle rather than select resources. */
export const RESULT_PARAMETERS = new Set([
  '_count', '_offset', '_sort', '_summary', '_elements', '_total', '_include', '_revinclude', '_contained',
  '_containedType', '_format', '_pretty',
]);

/** Splits a value list on commas that are not escaped with a backslash (search.html#escaping). */
export function splitValues(value: string): string[] {
  const values: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    const char = value[i];
    if (char === '\\' && i + 1 < value.length) {
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

export function parseCriteria(params: URLSearchParams): Criterion[] {
  const criteria: Criterion[] = [];
  for (const [key, value] of params) {
    if (RESULT_PARAMETERS.has(key)) continue;
    const [name, modifier] = key.split(':', 2);
    criteria.push({ name, modifier, values: splitValues(value) });
  }
  return criteria;
}

export function parseCount(value: string | null, fallback: number, max: number): number {
  if (value === null || value === '') return fallback;
  const count = Number(value);
  if (!Number.isInteger(count) || count < 0) throw errors.invalidSearchValue('_count', value, 'expected a non-negative integer');
  return Math.min(count, max);
}
