/**
 * Strings are searched case- and accent-insensitively (search.html#string): both the indexed value
 * and the searched value are folded the same way, in JavaScript, so PostgreSQL's collation does not matter.
 */
export function foldText(value: string): string {
  return value.normalize('NFD').replace(/\p{M}+/gu, '').toLowerCase();
}
