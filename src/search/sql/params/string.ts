import { errors } from '../../../errors.js';
import { foldText } from '../../fold.js';
import { indexExists, missingCondition, type CriterionBuilder } from '../context.js';
import { fragment, or, type SqlFragment } from '../fragment.js';
import { indexedText } from '../../index-writer.js';

/** Escapes LIKE's wildcards so that a searched `%` or `_` is literal. */
export function likeEscape(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function stringValueCondition(modifier: string | undefined, value: string, x: string): SqlFragment {
  switch (modifier) {
    case undefined:
      return fragment(`${x}.value LIKE $?`, `${likeEscape(indexedText(foldText(value)))}%`);
    case 'exact':
      return fragment(`${x}.exact = $?`, value);
    case 'contains':
      return fragment(`${x}.value LIKE $?`, `%${likeEscape(indexedText(foldText(value)))}%`);
    default:
      throw errors.badRequest(`Modifier :${modifier} is not supported on string parameters; use :exact, :contains or :missing`);
  }
}

/** string (search.html#string): case- and accent-insensitive prefix; `:exact`; `:contains`. */
export const stringCriterion: CriterionBuilder = (context, criterion, alias) => {
  if (criterion.modifier === 'missing') return missingCondition(context, 'search_string', alias, criterion);
  return indexExists(context, 'search_string', alias, criterion.param.code, (x) =>
    or(criterion.values.map((value) => stringValueCondition(criterion.modifier, value, x))),
  );
};
