/**
 * A piece of SQL with its bind values. `$?` marks each value's place; `assemble` numbers them in
 * order. Fragments compose by concatenation, so every value reaches SQL as a bind parameter.
 */
export interface SqlFragment {
  sql: string;
  values: unknown[];
}

export const TRUE: SqlFragment = { sql: 'TRUE', values: [] };
export const FALSE: SqlFragment = { sql: 'FALSE', values: [] };

export function fragment(sql: string, ...values: unknown[]): SqlFragment {
  return { sql, values };
}

export function join(parts: SqlFragment[], separator: string, empty: SqlFragment = TRUE): SqlFragment {
  if (parts.length === 0) return empty;
  if (parts.length === 1) return parts[0];
  return { sql: parts.map((p) => `(${p.sql})`).join(separator), values: parts.flatMap((p) => p.values) };
}

export const and = (parts: SqlFragment[]): SqlFragment => join(parts, ' AND ', TRUE);
export const or = (parts: SqlFragment[]): SqlFragment => join(parts, ' OR ', FALSE);

export function wrap(before: string, inner: SqlFragment, after: string): SqlFragment {
  return { sql: `${before}${inner.sql}${after}`, values: inner.values };
}

/** Numbers the `$?` placeholders, starting after `offset` values already bound. */
export function assemble(part: SqlFragment, offset = 0): { sql: string; values: unknown[] } {
  let n = offset;
  return { sql: part.sql.replace(/\$\?/g, () => `$${++n}`), values: part.values };
}
