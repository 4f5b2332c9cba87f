import { errors } from '../../errors.js';
import { and, fragment, or, type SqlFragment } from './fragment.js';

export const PREFIXES = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'] as const;
export type Prefix = (typeof PREFIXES)[number];

/**
 * Splits `ge2024-01` into `ge` and `2024-01`; no prefix is `eq` (search.html#prefix). Two letters
 * that are not a prefix are refused, naming the parameter (`name`) when the caller gives it.
 */
export function splitPrefix(value: string, name?: string): { prefix: Prefix; rest: string } {
  const head = value.slice(0, 2);
  if ((PREFIXES as readonly string[]).includes(head) && value.length > 2 && !/^[a-z]/i.test(value[2] ?? '')) {
    return { prefix: head as Prefix, rest: value.slice(2) };
  }
  if (/^[a-z]{2}/i.test(value) && !/^\d/.test(value)) {
    const why = (PREFIXES as readonly string[]).includes(head)
      ? `the prefix "${head}" must be followed by a value`
      : `"${head}" is not a prefix; use one of ${PREFIXES.join(', ')}`;
    throw name ? errors.invalidSearchValue(name, value, why) : errors.badRequest(`Unknown prefix "${head}" in "${value}"; use one of ${PREFIXES.join(', ')}`);
  }
  return { prefix: 'eq', rest: value };
}

export interface RangeColumns {
  low: string;
  high: string;
  /** The SQL type the search bounds are cast to (timestamptz, numeric). */
  type: string;
}

/**
 * The prefixes as the R4 search page defines them, on half-open ranges: the target's [low, high)
 * against the search value's [start, end).
 * eq: the search range contains the target; ne: it does not; gt/lt: the target reaches above/below
 * the search range; ge/le: gt/lt or eq; sa/eb: the target starts after / ends before it;
 * ap: the ranges overlap (the caller widens the search range first).
 */
export function rangeCondition(prefix: Prefix, columns: RangeColumns, start: string, end: string): SqlFragment {
  const { low, high, type } = columns;
  const s = `$?::${type}`;
  const contains = fragment(`${low} >= ${s} AND ${high} <= ${s}`, start, end);
  switch (prefix) {
    case 'eq':
      return contains;
    case 'ne':
      return fragment(`NOT (${low} >= ${s} AND ${high} <= ${s})`, start, end);
    case 'gt':
      return fragment(`${high} > ${s}`, end);
    case 'lt':
      return fragment(`${low} < ${s}`, start);
    case 'ge':
      // Either way the target ends at or after the start (a range's high is never below its low):
      // said outright, the upper bound's index can find the rows.
      return and([fragment(`${high} >= ${s}`, start), or([fragment(`${high} > ${s}`, end), contains])]);
    case 'le':
      return or([fragment(`${low} < ${s}`, start), contains]);
    case 'sa':
      return fragment(`${low} >= ${s}`, end);
    case 'eb':
      return fragment(`${high} <= ${s}`, start);
    case 'ap':
      return fragment(`${low} < ${s} AND ${high} > ${s}`, end, start);
  }
}
