import { errors } from '../../errors.js';
import type { ParamType, SearchParam } from '../registry.js';
import type { BuildContext } from './context.js';
import { fragment, type SqlFragment } from './fragment.js';

/** One `_sort` key: an SQL expression on the resource row, its SQL type (for the paging cursor) and direction. */
export interface SortKey {
  expression: SqlFragment;
  sqlType: 'text' | 'numeric' | 'timestamptz';
  descending: boolean;
}

/** What a parameter type sorts by: the lowest value ascending, the highest descending (search.html#sort). */
const SORT_COLUMNS: Partial<Record<ParamType, { table: string; asc: string; desc: string; sqlType: SortKey['sqlType'] }>> = {
  string: { table: 'search_string', asc: 'min(value)', desc: 'max(value)', sqlType: 'text' },
  token: { table: 'search_token', asc: 'min(code)', desc: 'max(code)', sqlType: 'text' },
  date: { table: 'search_date', asc: 'min(low)', desc: 'max(high)', sqlType: 'timestamptz' },
  number: { table: 'search_number', asc: 'min(low)', desc: 'max(high)', sqlType: 'numeric' },
  quantity: { table: 'search_quantity', asc: 'min(low)', desc: 'max(high)', sqlType: 'numeric' },
  reference: { table: 'search_reference', asc: "min(coalesce(target_type || '/' || target_id, url))", desc: "max(coalesce(target_type || '/' || target_id, url))", sqlType: 'text' },
  uri: { table: 'search_uri', asc: 'min(uri)', desc: 'max(uri)', sqlType: 'text' },
};

function sortKey(context: BuildContext, types: string[], name: string, descending: boolean, alias: string): SortKey {
  if (name === '_id') return { expression: fragment(`${alias}.id`), sqlType: 'text', descending };
  if (name === '_lastUpdated') return { expression: fragment(`${alias}.last_updated`), sqlType: 'timestamptz', descending };
  const params = types.map((type) => context.registry.get(type, name));
  if (params.length === 0 || params.some((p) => !p)) throw errors.badRequest(`Cannot sort by "${name}": not a search parameter of ${types.join(', ') || 'every type'}`);
  const param = params[0] as SearchParam;
  const column = SORT_COLUMNS[param.type];
  if (!column) throw errors.badRequest(`Cannot sort by "${name}": ${param.type} parameters are not sortable`);
  return {
    expression: fragment(
      `(SELECT ${descending ? column.desc : column.asc} FROM ${column.table} WHERE resource_type = ${alias}.resource_type AND id = ${alias}.id AND param = $?)`,
      param.code,
    ),
    sqlType: column.sqlType,
    descending,
  };
}

/** `_sort=a,-b` (several keys, `-` descending); ties are always broken by type and id, so the order is total. */
export function parseSort(context: BuildContext, types: string[], value: string | null, alias: string): SortKey[] {
  if (!value) return [];
  return value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => (part.startsWith('-') ? sortKey(context, types, part.slice(1), true, alias) : sortKey(context, types, part, false, alias)));
}
