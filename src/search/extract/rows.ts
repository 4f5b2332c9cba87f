/** The index rows of one resource, one list per index table (see migrations/…_search_indexes.ts). */
export interface StringRow { param: string; value: string; exact: string }
export interface TokenRow {
  param: string;
  system: string | null;
  code: string | null;
  text: string | null;
  typeSystem: string | null;
  typeCode: string | null;
}
/** Instants as ISO text; `-infinity` / `infinity` for open ends. */
export interface DateRow { param: string; low: string; high: string }
export interface NumberRow { param: string; value: string; low: string; high: string }
export interface QuantityRow {
  param: string;
  system: string | null;
  code: string | null;
  unit: string | null;
  value: string;
  low: string;
  high: string;
  canonicalCode: string | null;
  canonicalLow: string | null;
  canonicalHigh: string | null;
}
export interface ReferenceRow {
  param: string;
  targetType: string | null;
  targetId: string | null;
  url: string | null;
  identifierSystem: string | null;
  identifierValue: string | null;
}
export interface UriRow { param: string; uri: string }
export interface CompositeRow {
  param: string;
  c1System: string | null;
  c1Code: string | null;
  c2System: string | null;
  c2Code: string | null;
  c2Text: string | null;
  c2Low: string | null;
  c2High: string | null;
  c2CanonicalCode: string | null;
  c2CanonicalLow: string | null;
  c2CanonicalHigh: string | null;
  c2DateLow: string | null;
  c2DateHigh: string | null;
  c3Low: string | null;
  c3High: string | null;
}
export interface TextRow { narrative: string; content: string }

export interface IndexRows {
  string: StringRow[];
  token: TokenRow[];
  date: DateRow[];
  number: NumberRow[];
  quantity: QuantityRow[];
  reference: ReferenceRow[];
  uri: UriRow[];
  composite: CompositeRow[];
  text?: TextRow;
}

/*
 * A parameter's row from a value: written out rather than `{ param, ...value }`, which is several
 * times slower, and a resource has dozens of rows.
 */
export const tokenRow = (param: string, t: Omit<TokenRow, 'param'>): TokenRow => ({
  param, system: t.system, code: t.code, text: t.text, typeSystem: t.typeSystem, typeCode: t.typeCode,
});
export const dateRow = (param: string, d: Omit<DateRow, 'param'>): DateRow => ({ param, low: d.low, high: d.high });
export const numberRow = (param: string, n: Omit<NumberRow, 'param'>): NumberRow => ({ param, value: n.value, low: n.low, high: n.high });
export const quantityRow = (param: string, q: Omit<QuantityRow, 'param'>): QuantityRow => ({
  param, system: q.system, code: q.code, unit: q.unit, value: q.value, low: q.low, high: q.high,
  canonicalCode: q.canonicalCode, canonicalLow: q.canonicalLow, canonicalHigh: q.canonicalHigh,
});
export const referenceRow = (param: string, r: Omit<ReferenceRow, 'param'>): ReferenceRow => ({
  param, targetType: r.targetType, targetId: r.targetId, url: r.url, identifierSystem: r.identifierSystem, identifierValue: r.identifierValue,
});

export function emptyRows(): IndexRows {
  return { string: [], token: [], date: [], number: [], quantity: [], reference: [], uri: [], composite: [] };
}
