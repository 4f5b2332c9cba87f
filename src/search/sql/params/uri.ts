import { errors } from '../../../errors.js';
import { indexExists, missingCondition, type CriterionBuilder } from '../context.js';
import { fragment, or, type SqlFragment } from '../fragment.js';
import { likeEscape } from './string.js';

/** Every prefix of a URI at a path boundary: what `:above` matches (`http://a/b/c` -> `http://a/b/c`, `http://a/b`, `http://a`). */
function pathPrefixes(uri: string): string[] {
  const prefixes = [uri];
  for (let i = uri.length - 1; i > 0; i--) if (uri[i] === '/' && uri[i - 1] !== '/' && uri[i - 1] !== ':') prefixes.push(uri.slice(0, i));
  return prefixes;
}

function uriMatch(modifier: string | undefined, value: string, x: string): SqlFragment {
  switch (modifier) {
    case undefined:
      return fragment(`${x}.uri = $?`, value);
    case 'below':
      return fragment(`${x}.uri LIKE $?`, `${likeEscape(value)}%`);
    case 'above':
      return fragment(`${x}.uri = ANY($?::text[])`, pathPrefixes(value));
    default:
      throw errors.badRequest(`Modifier :${modifier} is not supported on uri parameters; use :below, :above or :missing`);
  }
}

/** uri (search.html#uri): exact, `:below` (the URI starts with the value), `:above` (the value starts with the URI). */
export const uriCriterion: CriterionBuilder = (context, criterion, alias) => {
  if (criterion.modifier === 'missing') return missingCondition(context, 'search_uri', alias, criterion);
  return indexExists(context, 'search_uri', alias, criterion.param.code, (x) => or(criterion.values.map((v) => uriMatch(criterion.modifier, v, x))));
};
