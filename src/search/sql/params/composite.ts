import { errors } from '../../../errors.js';
import { foldText } from '../../fold.js';
import type { ComponentParam } from '../../registry.js';
import { indexExists, missingCondition, type CriterionBuilder } from '../context.js';
import { and, fragment, or, type SqlFragment } from '../fragment.js';
import { dateMatch } from './date.js';
import { numberMatch } from './number.js';
import { quantityMatch } from './quantity.js';
import { likeEscape } from './string.js';
import { tokenMatch } from './token.js';
import { splitUnescaped, unescapeValue } from '../../parse.js';

function secondComponent(name: string, component: ComponentParam, value: string, x: string): SqlFragment {
  switch (component.type) {
    case 'token':
      return tokenMatch(name, value, { system: `${x}.c2_system`, code: `${x}.c2_code` });
    case 'quantity':
      return quantityMatch(name, value, {
        low: `${x}.c2_low`, high: `${x}.c2_high`, system: `${x}.c2_system`, code: `${x}.c2_code`,
        canonicalCode: `${x}.c2_canonical_code`, canonicalLow: `${x}.c2_canonical_low`, canonicalHigh: `${x}.c2_canonical_high`,
      });
    case 'number':
      return numberMatch(name, unescapeValue(value), { low: `${x}.c2_low`, high: `${x}.c2_high` });
    case 'date':
      return dateMatch(name, unescapeValue(value), { low: `${x}.c2_date_low`, high: `${x}.c2_date_high`, type: 'timestamptz' });
    case 'string':
      return fragment(`${x}.c2_text LIKE $?`, `${likeEscape(foldText(unescapeValue(value)))}%`);
    default:
      throw errors.badRequest(`${name}: a ${component.type} component is not searchable`);
  }
}

function compositeMatch(name: string, components: ComponentParam[], value: string, x: string): SqlFragment {
  // Split on `$` unless escaped as `\$` (search.html#escaping); each component unescapes its own parts.
  const parts = splitUnescaped(value, '$');
  if (parts.length !== components.length) {
    throw errors.invalidSearchValue(name, value, `expected ${components.length} components separated by $`);
  }
  const conditions = [tokenMatch(name, parts[0], { system: `${x}.c1_system`, code: `${x}.c1_code` }), secondComponent(name, components[1], parts[1], x)];
  if (components[2]) conditions.push(numberMatch(name, unescapeValue(parts[2]), { low: `${x}.c3_low`, high: `${x}.c3_high` }));
  return and(conditions);
}

/** composite (search.html#composite): every component must match within the same element. */
export const compositeCriterion: CriterionBuilder = (context, criterion, alias) => {
  if (criterion.modifier === 'missing') return missingCondition(context, 'search_composite', alias, criterion);
  if (criterion.modifier) throw errors.badRequest(`Modifier :${criterion.modifier} is not supported on composite parameters`);
  const components = criterion.param.components;
  if (!components?.length) throw errors.badRequest(`Composite parameter ${criterion.name} has no searchable components`);
  return indexExists(context, 'search_composite', alias, criterion.param.code, (x) =>
    or(criterion.values.map((v) => compositeMatch(criterion.name, components, v, x))),
  );
};
