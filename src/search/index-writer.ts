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
    for (const row of (rows?.[name] ?? []) as unknown as Record<string, unknown>[]) {
      tx.insertLater(table, [...key(row.param as string), ...columns.map(([column, type, property]) => ({ name: column, type: `${type}[]`, value: row[property] }))]);
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
