import { parseReference, type IndexRows } from './extract/index.js';
import { splitValues, unescapeValue } from './parse.js';
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

  /** Every (key, value) pair, as `pairKey` writes it. */
  *pairs(): IterableIterator<string> {
    for (const [key, values] of this.values) for (const value of values) yield pairKey(key, value);
  }
}

const pairKey = (key: string, value: string) => `${key}\u0000${value}`;

/** A criterion that needs one of these (key, value) pairs in the index. */
type Requirement = { key: string; value: string }[];

/** What the index rows tell of criteria: they certainly fail, certainly hold, or the SQL must say. */
export type Verdict = 'no' | 'yes' | 'maybe';

/**
 * A quick test of search criteria against one resource's index rows, before any SQL. 'no' when a
 * criterion certainly fails (an exact token, reference or `_id` value the resource does not have,
 * compared exactly as the SQL does); 'yes' when every criterion is such a value and the resource
 * has one of each; otherwise 'maybe': modifiers, chains and every other parameter type are left to
 * the search on the index tables. It lets the subscription matcher skip the query for the many
 * subscriptions a change cannot concern, and for those its exact values decide.
 * Compile once per criteria and registry version; test once per version.
 */
export function compilePrefilter(registry: SearchParameterRegistry, type: string, params: URLSearchParams, baseUrl: string): (index: RowIndex, id: string) => Verdict {
  const { requirements, ids, decisive } = exactRequirements(registry, type, params, baseUrl);
  return (index, id) => {
    const holds = ids.every((allowed) => allowed.includes(id)) && requirements.every((any) => any.some(({ key, value }) => index.has(key, value)));
    if (!holds) return 'no';
    return decisive ? 'yes' : 'maybe';
  };
}

/**
 * The index pairs (`RowIndex.pairs`) one of which every version the criteria match has: the
 * alternatives of the exact requirement with the fewest of them; undefined when no criterion is
 * an exact token or reference value. A version with none of these pairs certainly does not match.
 */
export function requiredPairs(registry: SearchParameterRegistry, type: string, params: URLSearchParams, baseUrl: string): string[] | undefined {
  const { requirements } = exactRequirements(registry, type, params, baseUrl);
  if (requirements.length === 0) return undefined;
  const fewest = requirements.reduce((best, requirement) => (requirement.length < best.length ? requirement : best));
  return [...new Set(fewest.map(({ key, value }) => pairKey(key, value)))];
}

/** The criteria's exact token and reference requirements and `_id` lists; `decisive` when they are all the criteria. */
function exactRequirements(registry: SearchParameterRegistry, type: string, params: URLSearchParams, baseUrl: string): { requirements: Requirement[]; ids: string[][]; decisive: boolean } {
  const requirements: Requirement[] = [];
  const ids: string[][] = [];
  let decisive = true;
  for (const [key, value] of params) {
    if (isResultParameter(key)) continue;
    const given = splitValues(value);
    const values = given.filter((v) => v !== '');
    // An empty value is an error the SQL reports: never certain here.
    if (values.length !== given.length) decisive = false;
    const plain = values.length > 0 && !key.includes('.') && !key.includes(':');
    if (plain && key === '_id') {
      ids.push(values.map(unescapeValue));
      continue;
    }
    const requirement = plain ? exactRequirement(registry, type, key, values, baseUrl) : undefined;
    if (requirement) requirements.push(requirement);
    else decisive = false;
  }
  return { requirements, ids, decisive };
}

/** The index values one of which a token or reference criterion needs; undefined for other criteria. */
function exactRequirement(registry: SearchParameterRegistry, type: string, key: string, values: string[], baseUrl: string): Requirement | undefined {
  const param = registry.get(type, key);
  if (param?.type === 'token') {
    const alternatives = values.map((v) => tokenRequirement(param.code, v));
    return alternatives.every((a) => a !== undefined) ? (alternatives as Requirement) : undefined;
  }
  if (param?.type === 'reference') return values.map((v) => referenceRequirement(param.code, v, baseUrl));
  return undefined;
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

function referenceRequirement(param: string, escaped: string, baseUrl: string): Requirement[number] {
  const value = unescapeValue(escaped);
  if (!value.includes('/') && !value.includes(':')) return { key: `r:${param}:id`, value };
  const parsed = parseReference(value.replace(/\/_history\/[^/]+$/, ''), baseUrl);
  if (parsed?.targetType) return { key: `r:${param}:typed`, value: `${parsed.targetType}/${parsed.targetId}` };
  return { key: `r:${param}:url`, value };
}

/** The uncompiled form, for one-off use and tests. */
export function prefilterVerdict(registry: SearchParameterRegistry, type: string, id: string, rows: IndexRows, params: URLSearchParams, baseUrl: string): Verdict {
  return compilePrefilter(registry, type, params, baseUrl)(new RowIndex(rows), id);
}
