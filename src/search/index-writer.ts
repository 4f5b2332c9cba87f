import type { Queryable, WriteHook } from '../store/index.js';
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
 * Replaces a resource's index rows in one statement (one round trip): data-modifying CTEs delete the
 * old rows and insert the new ones from parallel arrays (`unnest`). A brand-new resource has no old rows.
 */
export async function writeIndexRows(tx: Queryable, resourceType: string, id: string, rows: IndexRows | undefined, replace: boolean): Promise<void> {
  const values: unknown[] = [resourceType, id];
  const bind = (value: unknown, type: string) => {
    values.push(value);
    return `$${values.length}::${type}`;
  };
  const steps: string[] = [];
  if (replace) for (const table of INDEX_TABLES) steps.push(`DELETE FROM ${table} WHERE resource_type = $1 AND id = $2`);
  for (const { name, table, columns } of TABLES) {
    const list = (rows?.[name] ?? []) as unknown as Record<string, unknown>[];
    if (list.length === 0) continue;
    const arrays = [bind(list.map((r) => r.param), 'text[]'), ...columns.map(([, type, key]) => bind(list.map((r) => r[key]), `${type}[]`))];
    steps.push(`INSERT INTO ${table} (resource_type, id, param, ${columns.map(([c]) => c).join(', ')}) SELECT $1, $2, * FROM unnest(${arrays.join(', ')})`);
  }
  if (rows?.text) {
    steps.push(
      `INSERT INTO search_text (resource_type, id, narrative, content) VALUES ($1, $2, to_tsvector('english', ${bind(rows.text.narrative, 'text')}), to_tsvector('english', ${bind(rows.text.content, 'text')}))`,
    );
  }
  if (steps.length === 0) return;
  const sql = `WITH ${steps.map((step, i) => `s${i} AS (${step})`).join(', ')} SELECT 1`;
  await tx.query(sql, values);
}

/** The write hook that keeps the search indexes in step with every write, in the write's transaction. */
export function searchIndexHook(registry: SearchParameterRegistry, baseUrl: string): WriteHook {
  return {
    name: 'search-index',
    afterWrite: async (tx, change) => {
      const rows = change.resource ? extractIndexRows(change.resource, registry, baseUrl) : undefined;
      await writeIndexRows(tx, change.resourceType, change.id, rows, change.versionId > 1);
    },
  };
}
