import { errors } from '../../../errors.js';
import { indexExists, missingCondition, type BuildContext, type CriterionBuilder } from '../context.js';
import { fragment, or, type SqlFragment } from '../fragment.js';
import { likeEscape } from './string.js';
import { indexedText } from '../../index-writer.js';

/** Every prefix of a URI at a path boundary: what `:above` matches (`http://a/b/c` -> `http://a/b/c`, `http://a/b`, `http://a`). */
function pathPrefixes(uri: string): string[] {
  const prefixes = [uri];
  for (let i = uri.length - 1; i > 0; i--) if (uri[i] === '/' && uri[i - 1] !== '/' && uri[i - 1] !== ':') prefixes.push(uri.slice(0, i));
  return prefixes;
}

/**
 * `url|version`: "for uri parameters that refer to the Canonical URLs of the conformance and
 * knowledge resources, servers SHOULD support ... a |[version] portion as part of the search
 * parameter ... as a search on the version" (search.html#uri). The value as written still matches
 * too: a `uri` element may hold a `|` itself (meta.profile is a canonical).
 */
function versionedMatch(context: BuildContext, value: string, x: string, alias: string): SqlFragment | undefined {
  const bar = value.lastIndexOf('|');
  if (bar <= 0 || bar === value.length - 1) return undefined;
  const v = context.alias('v');
  return fragment(
    `${x}.uri = $? OR (${x}.uri = $? AND EXISTS (SELECT 1 FROM search_token ${v} WHERE ${v}.resource_type = ${alias}.resource_type AND ${v}.id = ${alias}.id AND ${v}.param = 'version' AND ${v}.code = $?))`,
    indexedText(value),
    indexedText(value.slice(0, bar)),
    indexedText(value.slice(bar + 1)),
  );
}

function uriMatch(context: BuildContext, modifier: string | undefined, value: string, x: string, alias: string): SqlFragment {
  switch (modifier) {
    case undefined:
      return versionedMatch(context, value, x, alias) ?? fragment(`${x}.uri = $?`, indexedText(value));
    case 'below':
      return fragment(`${x}.uri LIKE $?`, `${likeEscape(indexedText(value))}%`);
    case 'above':
      return fragment(`${x}.uri = ANY($?::text[])`, pathPrefixes(value));
    default:
      throw errors.badRequest(`Modifier :${modifier} is not supported on uri parameters; use :below, :above or :missing`);
  }
}

/** uri (search.html#uri): exact, `:below` (the URI starts with the value), `:above` (the value starts with the URI). */
export const uriCriterion: CriterionBuilder = (context, criterion, alias) => {
  if (criterion.modifier === 'missing') return missingCondition(context, 'search_uri', alias, criterion);
  return indexExists(context, 'search_uri', alias, criterion.param.code, (x) =>
    or(criterion.values.map((v) => uriMatch(context, criterion.modifier, v, x, alias))),
  );
};
