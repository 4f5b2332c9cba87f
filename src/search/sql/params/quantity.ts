import { errors } from '../../../errors.js';
import { toCanonical, UCUM_SYSTEM } from '../../ucum.js';
import { indexExists, missingCondition, type CriterionBuilder } from '../context.js';
import { and, fragment, or, type SqlFragment } from '../fragment.js';
import { numberCondition, searchedNumber } from './number.js';
import { splitUnescaped, unescapeValue } from '../../parse.js';

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
 * (the code or the human unit) or `[prefix]number` (any unit). A UCUM unit is compared in canonical
 * base units, so 1 g matches 1000 mg; other systems are compared by system and code, unconverted.
 */
export function quantityMatch(name: string, value: string, columns: QuantityColumns): SqlFragment {
  const parts = splitUnescaped(value, '|').map(unescapeValue);
  if (parts.length !== 1 && parts.length !== 3) {
    throw errors.invalidSearchValue(name, value, 'expected [prefix]number|system|code, [prefix]number||unit or [prefix]number');
  }
  const [number, system = '', code = ''] = parts;
  const { prefix, start, end } = searchedNumber(name, number);
  if (system === UCUM_SYSTEM && code) {
    const canonicalStart = toCanonical(code, Number(start));
    const canonicalEnd = toCanonical(code, Number(end));
    if (canonicalStart && canonicalEnd) {
      return and([
        fragment(`${columns.canonicalCode} = $?`, canonicalStart.code),
        numberCondition(prefix, { low: columns.canonicalLow, high: columns.canonicalHigh }, String(canonicalStart.value), String(canonicalEnd.value)),
      ]);
    }
  }
  const conditions = [numberCondition(prefix, { low: columns.low, high: columns.high }, start, end)];
  if (system) conditions.push(fragment(`${columns.system} = $?`, system));
  if (code) {
    conditions.push(columns.unit && !system ? fragment(`(${columns.code} = $? OR ${columns.unit} = $?)`, code, code) : fragment(`${columns.code} = $?`, code));
  }
  return and(conditions);
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
