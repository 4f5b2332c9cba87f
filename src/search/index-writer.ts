import type { BatchedTransaction, WriteHook } from '../store/index.js';
import { extractIndexRows, type IndexRows } from './extract/index.js';
import type { SearchParameterRegistry } from './registry.js';

type Column = readonly [column: string, sqlType: string, key: string];

/** Each index table and its value columns: the column, its SQL type, and the row's property that fills it. */
const TABLES: readonly { name: keyof Omit<IndexRows, 'text'>; table: string; columns: readonly Column[] }[] = [
  { name: 'string', table: 'search_string', columns: [['value', 'text', 'value'], ['exact', 'text', 'exact']] },
  {
    name: 'token',
    table: 'search_token',
    columns: [['system', 'text', 'system'], ['code', 'text', 'code'], ['text', 'text', 'text'], ['type_system', 'text', 'typeSystem'], ['type_code', 'text', 'typeCode']],
  },
  { name: 'date', table: 'search_date', columns: [['low', 'timestamptz', 'low'], ['high', 'timestamptz', 'high']] },
  { name: 'number', table: 'search_number', columns: [['value', 'numeric', 'value'], ['low', 'numeric', 'low'], ['high', 'numeric', 'high']] },
  {
    name: 'quantity',
    table: 'search_quantity',
    columns: [
      ['system', 'text', 'system'], ['code', 'text', 'code'], ['unit', 'text', 'unit'], ['value', 'numeric', 'value'],
      ['low', 'numeric', 'low'], ['high', 'numeric', 'high'], ['canonical_code', 'text', 'canonicalCode'],
      ['canonical_low', 'numeric', 'canonicalLow'], ['canonical_high', 'numeric', 'canonicalHigh'],
    ],
  },
  {
    name: 'reference',
    table: 'search_reference',
    columns: [
      ['target_type', 'text', 'targetType'], ['target_id', 'text', 'targetId'], ['url', 'text', 'url'],
      ['identifier_system', 'text', 'identifierSystem'], ['identifier_value', 'text', 'identifierValue'],
    ],
  },
  { name: 'uri', table: 'search_uri', columns: [['uri', 'text', 'uri']] },
  {
    name: 'composite',
    table: 'search_composite',
    columns: [
      ['c1_system', 'text', 'c1System'], ['c1_code', 'text', 'c1Code'], ['c2_system', 'text', 'c2System'], ['c2_code', 'text', 'c2Code'],
      ['c2_text', 'text', 'c2Text'], ['c2_low', 'numeric', 'c2Low'], ['c2_high', 'numeric', 'c2High'],
      ['c2_canonical_code', 'text', 'c2CanonicalCode'], ['c2_canonical_low', 'numeric', 'c2CanonicalLow'],
      ['c2_canonical_high', 'numeric', 'c2CanonicalHigh'], ['c2_date_low', 'timestamptz', 'c2DateLow'],
      ['c2_date_high', 'timestamptz', 'c2DateHigh'], ['c3_low', 'numeric', 'c3Low'], ['c3_high', 'numeric', 'c3High'],
    ],
  },
];

export const INDEX_TABLES = [...TABLES.map((t) => t.table), 'search_text'];

/**
 * The text columns that B-tree indexes hold (migrations), with a composite's second token, which
 * searches compare the same way as the first; and the bytes of a value each keeps. An index entry
 * has a hard limit (about 2.7 KB, and 8 KB before compression), so a resource with a longer value
 * (a 10,000-character name) could not be stored at all; two of these columns share an index at
 * most. The searches bound what they look up the same way (`indexedText`).
 */
const INDEXED_TEXT_BYTES = 1000;
const INDEXED_TEXT_COLUMNS = new Set([
  'search_string.value', 'search_token.system', 'search_token.code', 'search_reference.target_type', 'search_reference.target_id',
  'search_reference.url', 'search_uri.uri', 'search_composite.c1_system', 'search_composite.c1_code', 'search_composite.c2_system', 'search_composite.c2_code',
  'search_quantity.canonical_code',
]);

/**
 * `value` cut to the first INDEXED_TEXT_BYTES of its UTF-8, at a character boundary: what an indexed
 * column stores of it, and so what a search compares with it (a search for a longer value then
 * matches those that begin with its first INDEXED_TEXT_BYTES).
 */
export function indexedText(value: string): string {
  // A UTF-16 unit is at most 3 bytes of UTF-8 (a pair of them 4).
  if (value.length * 3 <= INDEXED_TEXT_BYTES) return value;
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length <= INDEXED_TEXT_BYTES) return value;
  let end = INDEXED_TEXT_BYTES;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

/** Per table, per column (in TABLES' order): whether an index holds it. */
const BOUNDED = new Map(TABLES.map(({ table, columns }) => [table, columns.map(([column]) => INDEXED_TEXT_COLUMNS.has(`${table}.${column}`))]));

/**
 * Replaces a resource's index rows: the old ones are deleted and the new ones queued as rows of the
 * transaction's next batch, where each table's rows of many resources go out as one multi-row insert.
 * A brand-new resource has no old rows to delete.
 */
export function writeIndexRows(tx: BatchedTransaction, resourceType: string, id: string, rows: IndexRows | undefined, replace: boolean): void {
  if (replace) {
    for (const table of INDEX_TABLES) tx.deleteLater(`DELETE FROM ${table} WHERE resource_type = $1 AND id = $2`, [resourceType, id]);
  }
  const key = (param: string) => [
    { name: 'resource_type', type: 'text[]', value: resourceType },
    { name: 'id', type: 'text[]', value: id },
    { name: 'param', type: 'text[]', value: param },
  ];
  for (const { name, table, columns } of TABLES) {
    const bounded = BOUNDED.get(table) as boolean[];
    for (const row of (rows?.[name] ?? []) as unknown as Record<string, unknown>[]) {
      tx.insertLater(table, [
        ...key(row.param as string),
        ...columns.map(([column, type, property], i) => {
          const value = row[property];
          return { name: column, type: `${type}[]`, value: bounded[i] && typeof value === 'string' ? indexedText(value) : value };
        }),
      ]);
    }
  }
  if (rows?.text) {
    tx.insertLater('search_text', [
      { name: 'resource_type', type: 'text[]', value: resourceType },
      { name: 'id', type: 'text[]', value: id },
      { name: 'narrative', type: 'text[]', value: rows.text.narrative, select: "to_tsvector('english', $)" },
      { name: 'content', type: 'text[]', value: rows.text.content, select: "to_tsvector('english', $)" },
    ]);
  }
}

/** The write hook that keeps the search indexes in step with every write, in the write's transaction. */
export function searchIndexHook(registry: SearchParameterRegistry, baseUrl: string): WriteHook {
  return {
    name: 'search-index',
    afterWrite: async (tx, change) => {
      const rows = change.resource ? extractIndexRows(change.resource, registry, baseUrl) : undefined;
      writeIndexRows(tx, change.resourceType, change.id, rows, change.versionId > 1);
    },
  };
}
