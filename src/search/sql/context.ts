import type { AccessPolicy } from '../../smart-auth/index.js';
import type { Queryable } from '../../store/index.js';
import type { SearchParam, SearchParameterRegistry } from '../registry.js';
import type { Terminology } from '../../terminology/index.js';
import { errors } from '../../errors.js';
import { fragment, wrap, type SqlFragment } from './fragment.js';

/** What building one search's SQL needs: the parameters, the terminology, and fresh table aliases. */
export class BuildContext {
  private aliases = 0;

  constructor(
    readonly registry: SearchParameterRegistry,
    readonly terminology: Terminology,
    readonly db: Queryable,
    readonly baseUrl: string,
    /** The requester's policy: every resource a chain or `_has` reaches must be within it too. */
    readonly access?: AccessPolicy,
  ) {}

  alias(prefix: string): string {
    return `${prefix}${++this.aliases}`;
  }
}

/** One criterion on one parameter: `name[:modifier]=value1,value2` (the values are ORed). */
export interface ParamCriterion {
  /** The parameter as written, for error messages. */
  name: string;
  param: SearchParam;
  modifier?: string;
  values: string[];
}

/** Builds the condition of one criterion on the resource row `alias` (a `resource` table alias). */
export type CriterionBuilder = (context: BuildContext, criterion: ParamCriterion, alias: string) => Promise<SqlFragment> | SqlFragment;

/** The parts of an `indexExists` condition: which index rows of which parameter, meeting what (on the rows aliased `alias`). */
export interface IndexRowCriterion {
  table: string;
  param: string;
  alias: string;
  condition: SqlFragment;
}

/** A condition that some index row of a parameter exists, with its parts (a search may be found from those rows). */
export type IndexExists = SqlFragment & { indexRow: IndexRowCriterion };

export function isIndexExists(part: SqlFragment): part is IndexExists {
  return (part as Partial<IndexExists>).indexRow !== undefined;
}

/**
 * `EXISTS` an index row of this parameter for the resource `alias`, meeting `condition` (written
 * against the index table's alias, which it is given).
 */
export function indexExists(context: BuildContext, table: string, alias: string, param: string, condition: (x: string) => SqlFragment): IndexExists {
  const x = context.alias('x');
  const inner = condition(x);
  return {
    sql: `EXISTS (SELECT 1 FROM ${table} ${x} WHERE ${x}.resource_type = ${alias}.resource_type AND ${x}.id = ${alias}.id AND ${x}.param = $? AND (${inner.sql}))`,
    values: [param, ...inner.values],
    indexRow: { table, param, alias: x, condition: inner },
  };
}

/** `:missing=true|false`: the resource has no / some indexed value for the parameter. */
export function missingCondition(context: BuildContext, table: string, alias: string, criterion: ParamCriterion): SqlFragment {
  const value = criterion.values[0];
  if (criterion.values.length !== 1 || (value !== 'true' && value !== 'false')) {
    throw errors.invalidSearchValue(criterion.name, criterion.values.join(','), 'expected true or false');
  }
  const exists = indexExists(context, table, alias, criterion.param.code, () => fragment('TRUE'));
  return value === 'true' ? wrap('NOT ', exists, '') : exists;
}
