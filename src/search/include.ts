import { errors } from '../errors.js';
import { isResourceType } from '../definitions/index.js';
import type { Queryable, StoredVersion } from '../store/index.js';
import { readSelected } from '../store/read.js';
import type { SearchParameterRegistry } from './registry.js';
import type { IncludeRule } from './request.js';

/** At most this many resources are added by `_include`/`_revinclude`, and `:iterate` goes this deep. */
const MAX_INCLUDED = 1000;
const MAX_ITERATIONS = 4;

type Key = { resourceType: string; id: string };
const keyOf = (r: Key) => `${r.resourceType}/${r.id}`;

function checkRule(registry: SearchParameterRegistry, rule: IncludeRule, name: string): void {
  if (rule.source === '*') return;
  if (!isResourceType(rule.source)) throw errors.invalidSearchValue(name, `${rule.source}:${rule.param}`, `${rule.source} is not a resource type`);
  if (rule.param === '*') return;
  const param = registry.get(rule.source, rule.param);
  if (param?.type !== 'reference') throw errors.invalidSearchValue(name, `${rule.source}:${rule.param}`, `${rule.param} is not a reference parameter of ${rule.source}`);
  if (rule.target && !isResourceType(rule.target)) throw errors.invalidSearchValue(name, `${rule.source}:${rule.param}:${rule.target}`, `${rule.target} is not a resource type`);
}

/** The resources the given ones refer to through the rule's parameter (`_include`). */
async function referencedBy(db: Queryable, rule: IncludeRule, from: Key[], limit: number): Promise<StoredVersion[]> {
  const sources = rule.source === '*' ? from : from.filter((r) => r.resourceType === rule.source);
  if (sources.length === 0) return [];
  return readSelected(
    db,
    `SELECT x.target_type, x.target_id
       FROM search_reference x JOIN unnest($1::text[], $2::text[]) AS s(resource_type, id) ON s.resource_type = x.resource_type AND s.id = x.id
      WHERE x.target_type IS NOT NULL AND ($3::text IS NULL OR x.param = $3) AND ($4::text IS NULL OR x.target_type = $4)`,
    [sources.map((s) => s.resourceType), sources.map((s) => s.id), rule.param === '*' ? null : rule.param, rule.target ?? null],
    limit,
  );
}

/**
 * The resources of the rule's type that refer to the given ones through its parameter
 * (`_revinclude`); a target type (`Provenance:target:Patient`) keeps only references to that type.
 */
async function referringTo(db: Queryable, rule: IncludeRule, to: Key[], limit: number): Promise<StoredVersion[]> {
  const targets = rule.target ? to.filter((t) => t.resourceType === rule.target) : to;
  if (targets.length === 0) return [];
  return readSelected(
    db,
    `SELECT x.resource_type, x.id
       FROM search_reference x JOIN unnest($1::text[], $2::text[]) AS t(resource_type, id) ON t.resource_type = x.target_type AND t.id = x.target_id
      WHERE ($3::text IS NULL OR x.resource_type = $3) AND ($4::text IS NULL OR x.param = $4)`,
    [targets.map((t) => t.resourceType), targets.map((t) => t.id), rule.source === '*' ? null : rule.source, rule.param === '*' ? null : rule.param],
    limit,
  );
}

/**
 * `_include` and `_revinclude` (search.html#include), with `:iterate` applied to what the previous
 * round added, until nothing new comes (bounded). The matches themselves are never repeated.
 */
export async function includedResources(
  db: Queryable,
  registry: SearchParameterRegistry,
  matches: StoredVersion[],
  include: IncludeRule[],
  revinclude: IncludeRule[],
): Promise<StoredVersion[]> {
  include.forEach((rule) => checkRule(registry, rule, '_include'));
  revinclude.forEach((rule) => checkRule(registry, rule, '_revinclude'));
  if (matches.length === 0 || (include.length === 0 && revinclude.length === 0)) return [];
  const seen = new Set(matches.map(keyOf));
  const included: StoredVersion[] = [];
  let frontier: Key[] = matches;
  for (let round = 0; round < MAX_ITERATIONS && frontier.length > 0 && included.length < MAX_INCLUDED; round++) {
    const rules = (list: IncludeRule[]) => (round === 0 ? list : list.filter((r) => r.iterate));
    // Enough rows that, after those already seen, the cap can still be reached.
    const limit = MAX_INCLUDED - included.length + seen.size;
    const found = [
      ...(await Promise.all(rules(include).map((rule) => referencedBy(db, rule, frontier, limit)))).flat(),
      ...(await Promise.all(rules(revinclude).map((rule) => referringTo(db, rule, frontier, limit)))).flat(),
    ];
    const added: StoredVersion[] = [];
    for (const version of found) {
      if (included.length + added.length >= MAX_INCLUDED) break;
      if (seen.has(keyOf(version))) continue;
      seen.add(keyOf(version));
      added.push(version);
    }
    included.push(...added);
    frontier = added;
  }
  return included;
}
