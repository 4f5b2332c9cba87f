import { errors } from '../../../errors.js';
import { numberRange } from '../../number-range.js';
import { indexExists, missingCondition, type CriterionBuilder } from '../context.js';
import { fragment, or, type SqlFragment } from '../fragment.js';
import { PREFIXES, type Prefix } from '../prefix.js';

/**
 * A searched number: its prefix and the interval [start, end) it is compared with. eq and ne use
 * the range the value's precision implies (`100` is [99.5, 100.5)); ap widens that range by 10% of
 * the value. "When a comparison prefix in the set gt, lt, ge, le, sa & eb is provided, the implicit
 * precision of the number is ignored" (search.html#number): start = end = exactly the value.
 */
export interface SearchedNumber {
  prefix: Prefix;
  start: string;
  end: string;
}

const PREFIXED = new RegExp(`^(${PREFIXES.join('|')})?(.*)$`, 's');

export function searchedNumber(name: string, text: string): SearchedNumber {
  const [, prefix = 'eq', rest] = PREFIXED.exec(text) as RegExpExecArray;
  const range = numberRange(rest);
  if (!range) throw errors.invalidSearchValue(name, text, `expected [prefix]number, e.g. 100, gt0.8 or 5.4e-3; the prefixes are ${PREFIXES.join(', ')}`);
  switch (prefix as Prefix) {
    case 'eq':
    case 'ne':
      return { prefix: prefix as Prefix, start: range.low, end: range.high };
    case 'ap': {
      const margin = Math.abs(Number(range.value)) * 0.1;
      return { prefix: 'ap', start: String(Number(range.low) - margin), end: String(Number(range.high) + margin) };
    }
    default:
      return { prefix: prefix as Prefix, start: range.value, end: range.value };
  }
}

/** A target's columns: the closed range [low, high]; a single value is stored with low = high. */
export interface NumberColumns {
  low: string;
  high: string;
}

/**
 * The prefixes on a target [low, high] (search.html#prefix): eq, the searched range contains the
 * target; ne, it does not; gt/lt, some of the target lies above/below the value; ge/le, the same or
 * equal; sa/eb, all of the target lies above/below it; ap, the target overlaps the widened range.
 */
export function numberCondition(prefix: Prefix, columns: NumberColumns, start: string, end: string): SqlFragment {
  const { low, high } = columns;
  const contains = fragment(`${low} >= $?::numeric AND ${high} < $?::numeric`, start, end);
  switch (prefix) {
    case 'eq':
      return contains;
    case 'ne':
      return fragment(`NOT (${contains.sql})`, ...contains.values);
    case 'gt':
      return fragment(`${high} > $?::numeric`, end);
    case 'ge':
      return fragment(`${high} >= $?::numeric`, end);
    case 'lt':
      return fragment(`${low} < $?::numeric`, start);
    case 'le':
      return fragment(`${low} <= $?::numeric`, start);
    case 'sa':
      return fragment(`${low} > $?::numeric`, end);
    case 'eb':
      return fragment(`${high} < $?::numeric`, start);
    case 'ap':
      return fragment(`${low} < $?::numeric AND ${high} >= $?::numeric`, end, start);
  }
}

export function numberMatch(name: string, text: string, columns: NumberColumns): SqlFragment {
  const { prefix, start, end } = searchedNumber(name, text);
  return numberCondition(prefix, columns, start, end);
}

/** number (search.html#number): prefixes, with the implicit precision of the searched value. */
export const numberCriterion: CriterionBuilder = (context, criterion, alias) => {
  if (criterion.modifier === 'missing') return missingCondition(context, 'search_number', alias, criterion);
  if (criterion.modifier) throw errors.badRequest(`Modifier :${criterion.modifier} is not supported on number parameters`);
  return indexExists(context, 'search_number', alias, criterion.param.code, (x) =>
    or(criterion.values.map((v) => numberMatch(criterion.name, v, { low: `${x}.low`, high: `${x}.high` }))),
  );
};
