import { errors } from '../../../errors.js';
import { parseDateRange, withPlusZone } from '../../date-range.js';
import { indexExists, missingCondition, type CriterionBuilder } from '../context.js';
import { or, type SqlFragment } from '../fragment.js';
import { rangeCondition, splitPrefix, type RangeColumns } from '../prefix.js';

/**
 * `ap` on dates: the spec recommends 10% of the gap between now and the value (search.html#prefix),
 * on each side; at least the value's own range.
 */
function widenApproximately(start: Date, end: Date): { start: Date; end: Date } {
  const gap = Math.abs(Date.now() - (start.getTime() + end.getTime()) / 2) * 0.1;
  return { start: new Date(start.getTime() - gap), end: new Date(end.getTime() + gap) };
}

/** One date value (`[prefix]date`) against a target range. */
export function dateMatch(name: string, value: string, columns: RangeColumns): SqlFragment {
  const { prefix, rest } = splitPrefix(value, name);
  const range = parseDateRange(withPlusZone(rest));
  if (!range) throw errors.invalidSearchValue(name, value, 'expected [prefix]YYYY[-MM[-DD[Thh:mm[:ss[.sss]][zone]]]]');
  const { start, end } = prefix === 'ap' ? widenApproximately(range.start, range.end) : range;
  return rangeCondition(prefix, columns, start.toISOString(), end.toISOString());
}

/** date (search.html#date): every prefix, partial dates as ranges, Period and Timing as ranges too. */
export const dateCriterion: CriterionBuilder = (context, criterion, alias) => {
  if (criterion.modifier === 'missing') return missingCondition(context, 'search_date', alias, criterion);
  if (criterion.modifier) throw errors.badRequest(`Modifier :${criterion.modifier} is not supported on date parameters`);
  return indexExists(context, 'search_date', alias, criterion.param.code, (x) =>
    or(criterion.values.map((v) => dateMatch(criterion.name, v, { low: `${x}.low`, high: `${x}.high`, type: 'timestamptz' }))),
  );
};

/** `_lastUpdated`, on the resource row itself: an instant, the range of one millisecond. */
export const lastUpdatedCriterion: CriterionBuilder = (_context, criterion, alias) => {
  if (criterion.modifier) throw errors.badRequest(`Modifier :${criterion.modifier} is not supported on _lastUpdated`);
  const columns = { low: `${alias}.last_updated`, high: `(${alias}.last_updated + interval '1 millisecond')`, type: 'timestamptz' };
  return or(criterion.values.map((v) => dateMatch(criterion.name, v, columns)));
};
