import { errors } from '../../../errors.js';
import { foldText } from '../../fold.js';
import type { Coded } from '../../../terminology/index.js';
import { indexExists, missingCondition, type BuildContext, type CriterionBuilder, type ParamCriterion } from '../context.js';
import { and, fragment, or, wrap, type SqlFragment } from '../fragment.js';
import { likeEscape } from './string.js';
import { splitUnescaped, unescapeValue } from '../../parse.js';
import { indexedText } from '../../index-writer.js';

/**
 * `system|code`, `|code` (no system), `system|` (any code of the system), `code` (any system);
 * an escaped `\|` is part of the system or code (search.html#escaping).
 */
export function parseToken(value: string): { system?: string | null; code?: string } {
  const [first, ...rest] = splitUnescaped(value, '|');
  if (rest.length === 0) return { code: unescapeValue(first) };
  const system = unescapeValue(first);
  const code = unescapeValue(rest.join('|'));
  return { system: system === '' ? null : system, code: code === '' ? undefined : code };
}

/** The columns a token is compared with: an index row's, or a composite's component. */
export interface TokenColumns {
  system: string;
  code: string;
}

export function tokenMatch(name: string, value: string, columns: TokenColumns): SqlFragment {
  const { system, code } = parseToken(value);
  const parts: SqlFragment[] = [];
  if (code !== undefined) parts.push(fragment(`${columns.code} = $?`, indexedText(code)));
  if (system === null) parts.push(fragment(`${columns.system} IS NULL`));
  else if (system !== undefined) parts.push(fragment(`${columns.system} = $?`, indexedText(system)));
  // `|` alone names neither a code nor a system: the spec's forms all have one or the other.
  if (code === undefined && (system === undefined || system === null)) throw errors.invalidSearchValue(name, value, 'expected [system]|[code]');
  return and(parts);
}

const tokenColumns = (x: string): TokenColumns => ({ system: `${x}.system`, code: `${x}.code` });

/** `:text`: the display or text starts with the value, at any word (search.html#modifiers). */
function textMatch(value: string, x: string): SqlFragment {
  const folded = likeEscape(foldText(unescapeValue(value)));
  return fragment(`(${x}.text LIKE $? OR ${x}.text LIKE $?)`, `${folded}%`, `% ${folded}%`);
}

/** `:of-type` on Identifier: `typeSystem|typeCode|value`. */
function ofTypeMatch(criterion: ParamCriterion, value: string, x: string): SqlFragment {
  const parts = splitUnescaped(value, '|').map(unescapeValue);
  if (parts.length !== 3 || !parts[1] || !parts[2]) {
    throw errors.invalidSearchValue(criterion.name, value, 'expected [type system]|[type code]|[value]');
  }
  const [typeSystem, typeCode, identifier] = parts;
  return and([
    typeSystem ? fragment(`${x}.type_system = $?`, typeSystem) : fragment(`${x}.type_system IS NULL`),
    fragment(`${x}.type_code = $? AND ${x}.code = $?`, typeCode, indexedText(identifier)),
  ]);
}

/** The codes of a ValueSet this server holds (stored, or in the R4 definitions), for `:in` / `:not-in`. */
async function valueSetCodes(context: BuildContext, criterion: ParamCriterion, url: string): Promise<Coded[]> {
  const codes = await context.terminology.expand(context.db, url);
  if (!codes) throw errors.invalidSearchValue(criterion.name, url, 'this server does not hold that ValueSet, or cannot expand it');
  return codes;
}

function inCodes(codes: Coded[], x: string): SqlFragment {
  return fragment(
    `EXISTS (SELECT 1 FROM unnest($?::text[], $?::text[]) AS vs(system, code) WHERE vs.code = ${x}.code AND (vs.system IS NULL OR vs.system = ${x}.system))`,
    codes.map((c) => c.system ?? null),
    codes.map((c) => c.code),
  );
}

/** The codes `:above` / `:below` a code, in a hierarchical code system this server holds. */
async function relatedCodes(context: BuildContext, criterion: ParamCriterion, value: string): Promise<{ system: string; codes: string[] }> {
  const { system, code } = parseToken(value);
  const direction = criterion.modifier as 'above' | 'below';
  if (!system || !code) throw errors.invalidSearchValue(criterion.name, value, 'expected system|code');
  const codes = await context.terminology.related(context.db, system, code, direction);
  if (!codes) {
    throw errors.invalidSearchValue(criterion.name, value, `the code system ${system} is not held here with a hierarchy, or does not define ${code}`);
  }
  return { system, codes };
}

/**
 * token (search.html#token) on Coding, CodeableConcept, Identifier, ContactPoint, code, boolean, id,
 * with `:not`, `:text`, `:of-type`, `:in`, `:not-in`, `:above`, `:below`, `:missing`.
 */
export const tokenCriterion: CriterionBuilder = async (context, criterion, alias) => {
  const { modifier, values, param } = criterion;
  const exists = (match: (x: string) => SqlFragment) => indexExists(context, 'search_token', alias, param.code, match);
  switch (modifier) {
    case 'missing':
      return missingCondition(context, 'search_token', alias, criterion);
    case undefined:
      return exists((x) => or(values.map((v) => tokenMatch(criterion.name, v, tokenColumns(x)))));
    case 'not':
      return wrap('NOT ', exists((x) => or(values.map((v) => tokenMatch(criterion.name, v, tokenColumns(x))))), '');
    case 'text':
      return exists((x) => or(values.map((v) => textMatch(v, x))));
    case 'of-type':
      return exists((x) => or(values.map((v) => ofTypeMatch(criterion, v, x))));
    case 'in':
    case 'not-in': {
      const codes = (await Promise.all(values.map((v) => valueSetCodes(context, criterion, unescapeValue(v))))).flat();
      const found = exists((x) => inCodes(codes, x));
      return modifier === 'in' ? found : wrap('NOT ', found, '');
    }
    case 'above':
    case 'below': {
      const related = await Promise.all(values.map((v) => relatedCodes(context, criterion, v)));
      return exists((x) => or(related.map(({ system, codes }) => fragment(`${x}.system = $? AND ${x}.code = ANY($?::text[])`, system, codes))));
    }
    default:
      throw errors.badRequest(`Modifier :${modifier} is not supported on token parameters`);
  }
};
