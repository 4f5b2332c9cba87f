import { parseReference, type IndexRows } from './extract/index.js';
import { splitValues } from './parse.js';
import type { SearchParameterRegistry } from './registry.js';
import { isResultParameter } from './request.js';
import { parseToken } from './sql/params/token.js';

/** One resource version's exact token and reference values, by parameter, for the prefilter. */
export class RowIndex {
  private readonly values = new Map<string, Set<string>>();

  constructor(rows: IndexRows) {
    for (const row of rows.token) {
      this.add(`t:${row.param}:code`, row.code ?? '');
      this.add(`t:${row.param}:pair`, `${row.system ?? ''}|${row.code ?? ''}`);
      this.add(`t:${row.param}:system`, row.system ?? '');
      if (row.system === null) this.add(`t:${row.param}:nosystem`, row.code ?? '');
    }
    for (const row of rows.reference) {
      if (row.targetId !== null) this.add(`r:${row.param}:id`, row.targetId);
      if (row.targetType !== null && row.targetId !== null) this.add(`r:${row.param}:typed`, `${row.targetType}/${row.targetId}`);
      if (row.url !== null) this.add(`r:${row.param}:url`, row.url);
    }
  }

  private add(key: string, value: string): void {
    let set = this.values.get(key);
    if (!set) this.values.set(key, (set = new Set()));
    set.add(value);
  }

  has(key: string, value: string): boolean {
    return this.values.get(key)?.has(value) === true;
  }
}

/** A criterion that needs one of these (key, value) pairs in the index. */
type Requirement = { key: string; value: string }[];

/**
 * A quick test of search criteria against one resource's index rows, before any SQL: false only
 * when a criterion certainly fails (an exact token, reference or `_id` value the resource does not
 * have, compared exactly as the SQL does); true means "maybe". Modifiers, chains and every other
 * parameter type answer "maybe", so the search on the index tables always has the last word.
 * It lets the subscription matcher skip the query for the many subscriptions a change cannot concern.
 * Compile once per criteria and registry version; test once per version.
 */
export function compilePrefilter(registry: SearchParameterRegistry, type: string, params: URLSearchParams, baseUrl: string): (index: RowIndex, id: string) => boolean {
  const requirements: Requirement[] = [];
  const ids: string[][] = [];
  for (const [key, value] of params) {
    if (isResultParameter(key) || key.includes('.') || key.includes(':')) continue;
    const values = splitValues(value).filter((v) => v !== '');
    if (values.length === 0) continue;
    if (key === '_id') {
      ids.push(values);
      continue;
    }
    const param = registry.get(type, key);
    if (param?.type === 'token') {
      const alternatives = values.map((v) => tokenRequirement(param.code, v));
      if (alternatives.every((a) => a !== undefined)) requirements.push(alternatives as Requirement);
    } else if (param?.type === 'reference') {
      requirements.push(values.map((v) => referenceRequirement(param.code, v, baseUrl)));
    }
  }
  return (index, id) => ids.every((allowed) => allowed.includes(id)) && requirements.every((any) => any.some(({ key, value }) => index.has(key, value)));
}

function tokenRequirement(param: string, value: string): Requirement[number] | undefined {
  const { system, code } = parseToken(value);
  if (code === undefined) {
    // `system|`: any code of the system; `|` alone is an error the SQL reports.
    return typeof system === 'string' ? { key: `t:${param}:system`, value: system } : undefined;
  }
  if (system === undefined) return { key: `t:${param}:code`, value: code };
  if (system === null) return { key: `t:${param}:nosystem`, value: code };
  return { key: `t:${param}:pair`, value: `${system}|${code}` };
}

function referenceRequirement(param: string, value: string, baseUrl: string): Requirement[number] {
  if (!value.includes('/') && !value.includes(':')) return { key: `r:${param}:id`, value };
  const parsed = parseReference(value.replace(/\/_history\/[^/]+$/, ''), baseUrl);
  if (parsed?.targetType) return { key: `r:${param}:typed`, value: `${parsed.targetType}/${parsed.targetId}` };
  return { key: `r:${param}:url`, value };
}

/** The uncompiled form, for one-off use and tests. */
export function mayMatch(registry: SearchParameterRegistry, type: string, id: string, rows: IndexRows, params: URLSearchParams, baseUrl: string): boolean {
  return compilePrefilter(registry, type, params, baseUrl)(new RowIndex(rows), id);
}
