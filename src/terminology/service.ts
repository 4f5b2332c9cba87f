import type { CodeSystem, ValueSet } from '@medplum/fhirtypes';
import type { Queryable } from '../store/index.js';
import { expandValueSet, type Coded } from './expand.js';
import { codeAndAncestors, codeAndDescendants, isHierarchical } from './hierarchy.js';
import { definitionsSource, layeredSource, stripVersion, type TerminologySource } from './sources.js';

/** The current, stored resource of a type with this canonical URL (found through the `url` index). */
async function storedByUrl<T>(db: Queryable, type: 'ValueSet' | 'CodeSystem', url: string): Promise<T | undefined> {
  const { rows } = await db.query<{ content: T }>(
    `SELECT r.content FROM search_uri u JOIN resource r ON r.resource_type = u.resource_type AND r.id = u.id
      WHERE u.resource_type = $1 AND u.param = 'url' AND u.uri = $2 AND NOT r.deleted
      ORDER BY r.last_updated DESC LIMIT 1`,
    [type, stripVersion(url)],
  );
  return rows[0]?.content;
}

/**
 * The terminology the server holds, for search modifiers (`:in`, `:above`, `:below`) and the
 * terminology operations: ValueSets and CodeSystems stored on this server first, then those of the
 * R4 definitions. A value set's graph (its code systems, the value sets it includes) is fetched
 * before it is expanded.
 */
export class Terminology {
  private async storedGraph(db: Queryable, valueSetUrl: string): Promise<TerminologySource> {
    const valueSets = new Map<string, ValueSet>();
    const codeSystems = new Map<string, CodeSystem>();
    const pending = [stripVersion(valueSetUrl)];
    while (pending.length > 0 && valueSets.size < 50) {
      const url = pending.pop() as string;
      if (valueSets.has(url)) continue;
      const valueSet = await storedByUrl<ValueSet>(db, 'ValueSet', url);
      if (!valueSet) continue;
      valueSets.set(url, valueSet);
      for (const include of [...(valueSet.compose?.include ?? []), ...(valueSet.compose?.exclude ?? [])]) {
        pending.push(...(include.valueSet ?? []).map(stripVersion));
        if (include.system && !codeSystems.has(include.system)) {
          const codeSystem = await storedByUrl<CodeSystem>(db, 'CodeSystem', include.system);
          if (codeSystem) codeSystems.set(include.system, codeSystem);
        }
      }
    }
    return { valueSet: (url) => valueSets.get(stripVersion(url)), codeSystem: (url) => codeSystems.get(stripVersion(url)) };
  }

  /** The codes of a value set, or undefined when the server does not hold it or cannot expand it. */
  async expand(db: Queryable, valueSetUrl: string): Promise<Coded[] | undefined> {
    return (await this.valueSet(db, valueSetUrl)).codes;
  }

  /** A value set by canonical URL: its resource (undefined when not held) and its codes (undefined when it cannot be expanded). */
  async valueSet(db: Queryable, valueSetUrl: string): Promise<{ resource?: ValueSet; codes?: Coded[] }> {
    const source = layeredSource(await this.storedGraph(db, valueSetUrl), definitionsSource());
    return { resource: source.valueSet(valueSetUrl), codes: expandValueSet(valueSetUrl, source)?.codes };
  }

  /** A code system by canonical URL, stored here or in the definitions. */
  async codeSystem(db: Queryable, system: string): Promise<CodeSystem | undefined> {
    return (await storedByUrl<CodeSystem>(db, 'CodeSystem', system)) ?? definitionsSource().codeSystem(system);
  }

  /**
   * The codes `:below` (the code and its descendants) or `:above` (the code and its ancestors) a code,
   * where the code system is held here and hierarchical; undefined otherwise.
   */
  async related(db: Queryable, system: string, code: string, direction: 'above' | 'below'): Promise<string[] | undefined> {
    const codeSystem = await this.codeSystem(db, system);
    if (!codeSystem || !isHierarchical(codeSystem)) return undefined;
    return direction === 'below' ? codeAndDescendants(codeSystem, code) : codeAndAncestors(codeSystem, code);
  }
}
