import { errors } from '../errors.js';

/**
 * Splits a value on `separator` where it is not escaped with a backslash (search.html#escaping).
 * The parts keep their escapes: a part may be split again on another separator (a token's `|`, a
 * composite's `$`) before `unescapeValue` reads it.
 */
export function splitUnescaped(value: string, separator: ',' | '|' | '$'): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    const char = value[i];
    if (char === '\\' && i + 1 < value.length) {
      current += char + value[++i];
    } else if (char === separator) {
      parts.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  parts.push(current);
  return parts;
}

/** The value an escaped one stands for: `\,`, `\$`, `\|` and `\\` are the character itself (search.html#escaping). */
export function unescapeValue(value: string): string {
  return value.replace(/\\([,$|\\])/g, '$1');
}

/** Splits a value list on commas that are not escaped; each value keeps its escapes (see splitUnescaped). */
export function splitValues(value: string): string[] {
  return splitUnescaped(value, ',');
}

export function parseCount(value: string | null, fallback: number, max: number): number {
  if (value === null || value === '') return fallback;
  const count = Number(value);
  if (!Number.isInteger(count) || count < 0) throw errors.invalidSearchValue('_count', value, 'expected a non-negative integer');
  return Math.min(count, max);
}
