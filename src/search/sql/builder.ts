import { errors, FhirError } from '../../errors.js';
import { isResourceType } from '../../definitions/index.js';
import type { ParamType, SearchParam } from '../registry.js';
import { accessCondition } from '../access.js';
import { isFullTextIndexed } from '../extract/text-values.js';
import { unescapeValue } from '../parse.js';
import type { BuildContext, CriterionBuilder } from './context.js';
import { and, fragment, or, type SqlFragment, TRUE } from './fragment.js';
import { compositeCriterion } from './params/composite.js';
import { dateCriterion, lastUpdatedCriterion } from './params/date.js';
import { numberCriterion } from './params/number.js';
import { quantityCriterion } from './params/quantity.js';
import { referenceCriterion } from './params/reference.js';
import { fullTextCriterion, idCriterion, listCriterion } from './params/special.js';
import { stringCriterion } from './params/string.js';
import { tokenCriterion } from './params/token.js';
import { uriCriterion } from './params/uri.js';

const BY_TYPE: Partial<Record<ParamType, CriterionBuilder>> = {
  string: stringCriterion,
  token: tokenCriterion,
  date: dateCriterion,
  number: numberCriterion,
  quantity: quantityCriterion,
  reference: referenceCriterion,
  uri: uriCriterion,
  composite: compositeCriterion,
};

/** Parameters that are not (only) index rows. */
const SPECIAL: Record<string, CriterionBuilder> = {
  _id: idCriterion,
  _lastUpdated: lastUpdatedCriterion,
  _text: fullTextCriterion('narrative'),
  _content: fullTextCriterion('content'),
  _list: listCriterion,
};

/**
 * Types whose values hold separators of their own (`system|code`, `code$value`, `5.4|system|unit`,
 * `system|value` of `:identifier`): their builders split a value first, then unescape each part.
 * The others are given their values unescaped (search.html#escaping).
 */
const SPLITS_OWN_VALUES = new Set<ParamType>(['token', 'composite', 'quantity', 'reference']);

/** A parameter the searched types do not define: the caller ignores it with a warning, or refuses it (strict). */
export class UnknownParameterError extends FhirError {
  constructor(readonly parameter: string, types: string[]) {
    super(400, 'unknown-parameter', 'not-supported', `Unknown search parameter "${parameter}" for ${types.length ? types.join(', ') : 'all types'}`);
  }
}

/** The parameter `name` as all the searched types define it; they must agree on its type. */
function lookup(context: BuildContext, types: string[], name: string, written: string): SearchParam {
  const params = types.map((type) => context.registry.get(type, name));
  if (params.length === 0 || params.some((p) => !p)) throw new UnknownParameterError(written, types);
  const [first] = params as SearchParam[];
  if (params.some((p) => p?.type !== first.type)) throw errors.badRequest(`Parameter "${name}" has different types across ${types.join(', ')}`);
  if (first.type === 'special') throw errors.badRequest(`Parameter "${name}" is not supported`);
  return first;
}

/**
 * A resource a chain or `_has` goes through must be one the requester may read: otherwise the
 * search would tell what it holds (who has which Observation) without showing it.
 */
async function reachable(context: BuildContext, type: string, alias: string): Promise<SqlFragment> {
  return context.access ? accessCondition(context, context.access, [type], ['r', 's'], alias) : TRUE;
}

/**
 * `ref[:Type].rest=values` (search.html#chaining): some reference of the parameter points at a
 * resource, of one of its target types, that meets `rest`, itself possibly chained.
 */
async function chainCondition(context: BuildContext, types: string[], head: string, rest: string, values: string[], alias: string): Promise<SqlFragment> {
  const [name, typeModifier] = head.split(':');
  const param = lookup(context, types, name, head);
  if (param.type !== 'reference') throw errors.badRequest(`"${head}" cannot be chained: it is not a reference parameter`);
  if (typeModifier && !isResourceType(typeModifier)) throw errors.badRequest(`"${head}": ${typeModifier} is not a resource type`);
  const targets = typeModifier ? [typeModifier] : param.targets.filter(isResourceType);
  const restName = rest.split(/[.:]/)[0];
  const searchable = targets.filter((t) => restName === '_has' || restName in SPECIAL || context.registry.get(t, restName));
  if (searchable.length === 0) throw new UnknownParameterError(`${head}.${rest}`, targets);
  const c = context.alias('c');
  const target = context.alias('r');
  const perType = await Promise.all(
    searchable.map(async (t) => {
      const inner = and([await criterionCondition(context, [t], rest, values, target), await reachable(context, t, target)]);
      return { sql: `${c}.target_type = $? AND (${inner.sql})`, values: [t, ...inner.values] };
    }),
  );
  const condition = or(perType);
  return {
    sql: `EXISTS (SELECT 1 FROM search_reference ${c} JOIN resource ${target} ON ${target}.resource_type = ${c}.target_type AND ${target}.id = ${c}.target_id AND NOT ${target}.deleted
      WHERE ${c}.resource_type = ${alias}.resource_type AND ${c}.id = ${alias}.id AND ${c}.param = $? AND (${condition.sql}))`,
    values: [param.code, ...condition.values],
  };
}

/**
 * `_has:Type:ref:rest=values` (search.html#has): some resource of `Type` whose `ref` points at this
 * one meets `rest` (which may itself be a `_has`).
 */
async function hasCondition(context: BuildContext, key: string, values: string[], alias: string): Promise<SqlFragment> {
  const [, type, refName, ...restParts] = key.split(':');
  const rest = restParts.join(':');
  if (!type || !refName || !rest) throw errors.badRequest(`Malformed "${key}": expected _has:Type:reference-parameter:parameter`);
  // A bad type inside a parameter is a bad request (400), not an unknown endpoint (404).
  if (!isResourceType(type)) throw errors.badRequest(`"${key}": ${type} is not a resource type`);
  const param = lookup(context, [type], refName, key);
  if (param.type !== 'reference') throw errors.badRequest(`"${key}": ${refName} is not a reference parameter of ${type}`);
  const h = context.alias('h');
  const source = context.alias('r');
  const inner = and([await criterionCondition(context, [type], rest, values, source), await reachable(context, type, source)]);
  const where = `${h}.resource_type = $? AND ${h}.param = $? AND ${h}.target_type = ${alias}.resource_type AND ${h}.target_id = ${alias}.id`;
  // Reference rows exist only for live current versions (as all index rows): when the conditions
  // on the referring resource read only its key, the reference row's key stands for it, and no
  // resource row is read per referring resource.
  if (!readsMoreThanKey(inner.sql, source)) {
    const onReference = inner.sql.replace(new RegExp(`\\b${source}\\.`, 'g'), `${h}.`);
    return { sql: `EXISTS (SELECT 1 FROM search_reference ${h} WHERE ${where} AND (${onReference}))`, values: [type, param.code, ...inner.values] };
  }
  return {
    sql: `EXISTS (SELECT 1 FROM search_reference ${h} JOIN resource ${source} ON ${source}.resource_type = ${h}.resource_type AND ${source}.id = ${h}.id AND NOT ${source}.deleted
      WHERE ${where} AND (${inner.sql}))`,
    values: [type, param.code, ...inner.values],
  };
}

/** Whether SQL reads any column of the resource row `alias`. */
export function readsRow(sql: string, alias: string): boolean {
  return new RegExp(`\\b${alias}\\.`).test(sql);
}

/** Whether SQL reads a column of the resource row `alias` other than its key (`deleted`, `last_updated`, `content`...). */
export function readsMoreThanKey(sql: string, alias: string): boolean {
  return new RegExp(`\\b${alias}\\.(?!resource_type\\b|id\\b)\\w`).test(sql);
}

/**
 * The SQL condition of one search criterion (`key=values`, values ORed) on the resource row `alias`
 * of one of `types`: plain, chained, or reverse-chained, to any depth.
 */
export async function criterionCondition(context: BuildContext, types: string[], key: string, values: string[], alias: string): Promise<SqlFragment> {
  // `_has` alone (or `_has.x`) is a malformed `_has`, not an unknown parameter to ignore.
  if (key.startsWith('_has:') || key === '_has' || key.startsWith('_has.')) return hasCondition(context, key, values, alias);
  const dot = key.indexOf('.');
  if (dot > 0) return chainCondition(context, types, key.slice(0, dot), key.slice(dot + 1), values, alias);
  const [name, modifier] = key.split(':', 2) as [string, string | undefined];
  // "Empty parameters are not an error - they are just ignored" (search.html#errors), special ones too.
  if (values.length === 0 || values.every((v) => v === '')) return fragment('TRUE');
  const special = SPECIAL[name];
  if ((name === '_text' || name === '_content') && types.some((type) => !isFullTextIndexed(type))) throw new UnknownParameterError(key, types);
  if (special) {
    const param = { code: name, type: 'special', url: '', targets: [] } as SearchParam;
    return special(context, { name: key, param, modifier, values: values.map(unescapeValue) }, alias);
  }
  const param = lookup(context, types, name, key);
  const builder = BY_TYPE[param.type];
  if (!builder) throw errors.badRequest(`Parameter "${name}" (${param.type}) is not searchable`);
  if (values.length === 0 || values.every((v) => v === '')) return fragment('TRUE');
  const given = SPLITS_OWN_VALUES.has(param.type) ? values : values.map(unescapeValue);
  return builder(context, { name: key, param, modifier, values: given }, alias);
}
