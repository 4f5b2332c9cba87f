import { errors } from '../../../errors.js';
import { isResourceType } from '../../../definitions/index.js';
import { parseReference } from '../../extract/index.js';
import { indexExists, missingCondition, type CriterionBuilder } from '../context.js';
import { fragment, or, type SqlFragment } from '../fragment.js';
import { parseToken } from './token.js';
import { unescapeValue } from '../../parse.js';
import { indexedText } from '../../index-writer.js';

/**
 * One reference value (search.html#reference): `id` (any target type, or the one the `:Type`
 * modifier names), `Type/id`, an absolute URL (our own base counts as local) or a canonical.
 */
function referenceMatch(name: string, value: string, targetType: string | undefined, baseUrl: string, x: string): SqlFragment {
  if (value === '') throw errors.invalidSearchValue(name, value, 'expected id, Type/id or a URL');
  if (!value.includes('/') && !value.includes(':')) {
    return targetType ? fragment(`${x}.target_type = $? AND ${x}.target_id = $?`, targetType, value) : fragment(`${x}.target_id = $?`, value);
  }
  const parsed = parseReference(value.replace(/\/_history\/[^/]+$/, ''), baseUrl);
  if (parsed?.targetType) {
    if (targetType && parsed.targetType !== targetType) return fragment('FALSE');
    return fragment(`${x}.target_type = $? AND ${x}.target_id = $?`, parsed.targetType, parsed.targetId);
  }
  return fragment(`${x}.url = $?`, indexedText(value));
}

function identifierMatch(name: string, value: string, x: string): SqlFragment {
  const { system, code } = parseToken(value);
  if (!code) throw errors.invalidSearchValue(`${name}:identifier`, value, 'expected [system]|value');
  if (system === undefined) return fragment(`${x}.identifier_value = $?`, code);
  return system === null
    ? fragment(`${x}.identifier_value = $? AND ${x}.identifier_system IS NULL`, code)
    : fragment(`${x}.identifier_value = $? AND ${x}.identifier_system = $?`, code, system);
}

/** reference: `id`, `Type/id`, URL, the `:Type` modifier, `:identifier` and `:missing` (chains are built by the builder). */
export const referenceCriterion: CriterionBuilder = (context, criterion, alias) => {
  const { modifier, values, param, name } = criterion;
  if (modifier === 'missing') return missingCondition(context, 'search_reference', alias, criterion);
  if (modifier === 'identifier') {
    return indexExists(context, 'search_reference', alias, param.code, (x) => or(values.map((v) => identifierMatch(name, v, x))));
  }
  if (modifier && !isResourceType(modifier)) {
    throw errors.badRequest(`Modifier :${modifier} is not supported on reference parameters; use a resource type, :identifier or :missing`);
  }
  return indexExists(context, 'search_reference', alias, param.code, (x) =>
    or(values.map((v) => referenceMatch(name, unescapeValue(v), modifier, context.baseUrl, x))),
  );
};
