import { errors } from '../errors.js';
import type { Criterion } from './parse.js';

/** A piece of SQL with its bind values; `$?` placeholders are numbered when the query is assembled. */
export interface SqlFragment {
  sql: string;
  values: unknown[];
}

/** The parameters conditional operations and search can match on until the full index lands (issue #3). */
export const SUPPORTED_PARAMETERS = ['_id', 'identifier'] as const;

function idCriterion(criterion: Criterion): SqlFragment {
  return { sql: 'r.id = ANY($?)', values: [criterion.values] };
}

/**
 * A token on Identifier (`system|value`, `|value`, `system|`, `value`), served by the GIN index on
 * `content->'identifier'`: containment in either shape, since some types hold one Identifier, not a list.
 */
function identifierValue(value: string): SqlFragment {
  const bar = value.indexOf('|');
  const system = bar >= 0 ? value.slice(0, bar) : undefined;
  const code = bar >= 0 ? value.slice(bar + 1) : value;
  const wanted: Record<string, string> = {};
  if (system) wanted.system = system;
  if (code) wanted.value = code;
  if (!system && !code) throw errors.invalidSearchValue('identifier', value, 'expected system|value');
  const containment = `(r.content -> 'identifier' @> $?::jsonb OR r.content -> 'identifier' @> $?::jsonb)`;
  const values: unknown[] = [JSON.stringify([wanted]), JSON.stringify(wanted)];
  if (system === '') {
    // `|value`: the identifier must have no system at all.
    return {
      sql: `(${containment} AND jsonb_path_exists(r.content -> 'identifier', '$[*] ? (@.value == $v && !exists(@.system))', $?::jsonb))`,
      values: [...values, JSON.stringify({ v: code })],
    };
  }
  return { sql: containment, values };
}

function identifierCriterion(criterion: Criterion): SqlFragment {
  if (criterion.modifier) throw errors.unsupportedCriteria(`identifier:${criterion.modifier}`);
  const parts = criterion.values.map(identifierValue);
  return { sql: `(${parts.map((p) => p.sql).join(' OR ')})`, values: parts.flatMap((p) => p.values) };
}

/** SQL conditions for criteria on `resource r`, ANDed; throws 400 for a parameter not served yet. */
export function criteriaToSql(criteria: Criterion[]): SqlFragment[] {
  return criteria.map((criterion) => {
    if (criterion.name === '_id' && !criterion.modifier) return idCriterion(criterion);
    if (criterion.name === 'identifier') return identifierCriterion(criterion);
    throw errors.unsupportedCriteria(criterion.modifier ? `${criterion.name}:${criterion.modifier}` : criterion.name);
  });
}
