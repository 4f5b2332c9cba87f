import { errors } from '../../../errors.js';
import { numberRange } from '../../number-range.js';
import { indexExists, missingCondition, type CriterionBuilder } from '../context.js';
import { or, type SqlFragment } from '../fragment.js';
import { rangeCondition, splitPrefix, type Prefix, type RangeColumns } from '../prefix.js';

/** A searched number: its prefix and the range its precision implies (`ap` widens it by 10%). */
export function searchedNumber(name: string, text: string): { prefix: Prefix; low: string; high: string; value: string } {
  const { prefix, rest } = splitPrefix(text);
  const range = numberRange(rest);
  if (!range) throw errors.invalidSearchValue(name, text, 'expected [prefix]number');
  if (prefix !== 'ap') return { prefix, ...range };
  const margin = Math.abs(Number(range.value)) * 0.1;
  return { prefix, value: range.value, low: String(Number(range.low) - margin), high: String(Number(range.high) + margin) };
}

export function numberMatch(name: string, text: string, columns: RangeColumns): SqlFragment {
  const { prefix, low, high } = searchedNumber(name, text);
  return rangeCondition(prefix, columns, low, high);
}

/** number (search.html#number): prefixes, with the implicit precision of the searched value. */
export const numberCriterion: CriterionBuilder = (context, criterion, alias) => {
  if (criterion.modifier === 'missing') return missingCondition(context, 'search_number', alias, criterion);
  if (criterion.modifier) throw errors.badRequest(`Modifier :${criterion.modifier} is not supported on number parameters`);
  return indexExists(context, 'search_number', alias, criterion.param.code, (x) =>
    or(criterion.values.map((v) => numberMatch(criterion.name, v, { low: `${x}.low`, high: `${x}.high`, type: 'numeric' }))),
  );
};
