import { errors } from '../../../errors.js';
import { toCanonical, UCUM_SYSTEM } from '../../ucum.js';
import { indexExists, missingCondition, type CriterionBuilder } from '../context.js';
import { and, fragment, or, type SqlFragment } from '../fragment.js';
import { rangeCondition } from '../prefix.js';
import { searchedNumber } from './number.js';

/** The columns a quantity is compared with: an index row's, or a composite's component. */
export interface QuantityColumns {
  low: string;
  high: string;
  system: string;
  code: string;
  unit?: string;
  canonicalCode: string;
  canonicalLow: string;
  canonicalHigh: string;
}

/**
 * One quantity value (search.html#quantity): `[prefix]number|system|code`, `[prefix]number||unit`
 * or `[prefix]number`. A UCUM unit is compared in canonical base units, so 1 g matches 1000 mg.
 */
export function quantityMatch(name: string, value: string, columns: QuantityColumns): SqlFragment {
  const [number, system, code, ...extra] = value.split('|');
  if (extra.length > 0 || (system !== undefined && code === undefined)) {
    throw errors.invalidSearchValue(name, value, 'expected [prefix]number|system|code, [prefix]number||unit or [prefix]number');
  }
  const searched = searchedNumber(name, number);
  if (system === UCUM_SYSTEM && code) {
    const low = toCanonical(code, Number(searched.low));
    const high = toCanonical(code, Number(searched.high));
    if (low && high) {
      const range = { low: columns.canonicalLow, high: columns.canonicalHigh, type: 'numeric' };
      return and([fragment(`${columns.canonicalCode} = $?`, low.code), rangeCondition(searched.prefix, range, String(low.value), String(high.value))]);
    }
  }
  const parts = [rangeCondition(searched.prefix, { low: columns.low, high: columns.high, type: 'numeric' }, searched.low, searched.high)];
  if (system) parts.push(fragment(`${columns.system} = $?`, system));
  if (code) parts.push(columns.unit && !system ? fragment(`(${columns.code} = $? OR ${columns.unit} = $?)`, code, code) : fragment(`${columns.code} = $?`, code));
  return and(parts);
}

/** quantity: prefixes with the implicit precision of the value, units by system|code or by unit, UCUM canonical. */
export const quantityCriterion: CriterionBuilder = (context, criterion, alias) => {
  if (criterion.modifier === 'missing') return missingCondition(context, 'search_quantity', alias, criterion);
  if (criterion.modifier) throw errors.badRequest(`Modifier :${criterion.modifier} is not supported on quantity parameters`);
  return indexExists(context, 'search_quantity', alias, criterion.param.code, (x) =>
    or(
      criterion.values.map((v) =>
        quantityMatch(criterion.name, v, {
          low: `${x}.low`, high: `${x}.high`, system: `${x}.system`, code: `${x}.code`, unit: `${x}.unit`,
          canonicalCode: `${x}.canonical_code`, canonicalLow: `${x}.canonical_low`, canonicalHigh: `${x}.canonical_high`,
        }),
      ),
    ),
  );
};
