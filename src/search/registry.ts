import { getParsedExpressionForResourceType, getSearchParameters, type FhirPathAtom } from '@medplum/core';
import type { SearchParameter } from '@medplum/fhirtypes';
import { isResourceType, loadDefinitions, resourceTypes } from '../definitions/index.js';

export type ParamType = 'string' | 'token' | 'date' | 'number' | 'quantity' | 'reference' | 'uri' | 'composite' | 'special';

/** One composite component: the parameter it borrows its type from, and its expression relative to the element. */
export interface ComponentParam {
  type: ParamType;
  expression: FhirPathAtom;
}

/** A SearchParameter as it applies to one resource type, ready to extract and to query. */
export interface SearchParam {
  code: string;
  type: ParamType;
  url: string;
  description?: string;
  /** The parameter's expression, only the part that applies to this type, parsed once. */
  expression?: FhirPathAtom;
  /** For reference parameters: the types it may point at. */
  targets: string[];
  components?: ComponentParam[];
  /** True for the parameters that are served from the resource table itself (`_id`, `_lastUpdated`). */
  column?: 'id' | 'last_updated';
}

/** Parameters answered without an index row, or specially. */
const COLUMN_PARAMS: Record<string, SearchParam['column']> = { _id: 'id', _lastUpdated: 'last_updated' };

function componentsOf(sp: SearchParameter, byUrl: (url: string) => SearchParameter | undefined, type: string): ComponentParam[] | undefined {
  if (sp.type !== 'composite') return undefined;
  const components: ComponentParam[] = [];
  for (const component of sp.component ?? []) {
    const definition = component.definition ? byUrl(component.definition) : undefined;
    if (!definition?.type || !component.expression) return undefined;
    components.push({ type: definition.type as ParamType, expression: getParsedExpressionForResourceType(type, component.expression) });
  }
  return components;
}

function toSearchParam(type: string, sp: SearchParameter, byUrl: (url: string) => SearchParameter | undefined): SearchParam | undefined {
  const code = sp.code as string;
  const column = COLUMN_PARAMS[code];
  let expression: FhirPathAtom | undefined;
  if (sp.expression && !column) {
    expression = getParsedExpressionForResourceType(type, sp.expression);
    if (!expression) return undefined;
  }
  return {
    code,
    type: sp.type as ParamType,
    url: sp.url as string,
    description: sp.description,
    expression,
    targets: sp.target ?? [],
    components: componentsOf(sp, byUrl, type),
    column,
  };
}

/**
 * Every search parameter of every type: the R4 definitions, plus the SearchParameter resources
 * stored on this server (custom parameters), which take effect for writes from the moment they are
 * registered. Per type, the table is built on first use and cached.
 */
export class SearchParameterRegistry {
  private readonly byType = new Map<string, Map<string, SearchParam>>();
  private readonly custom = new Map<string, SearchParameter>();
  private builtInByUrl?: Map<string, SearchParameter>;

  private definitionByUrl(url: string): SearchParameter | undefined {
    return this.custom.get(url) ?? this.builtInByUrl?.get(url);
  }

  private build(type: string): Map<string, SearchParam> {
    loadDefinitions();
    const builtIn = r4Only(getSearchParameters(type) ?? {});
    if (!this.builtInByUrl) {
      this.builtInByUrl = new Map();
      for (const t of resourceTypes()) for (const sp of r4Only(getSearchParameters(t) ?? {})) this.builtInByUrl.set(sp.url as string, sp);
    }
    const params = new Map<string, SearchParam>();
    const definitions = [...builtIn, ...[...this.custom.values()].filter((sp) => appliesTo(sp, type))];
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

  unregister(sp: SearchParameter): void {
    if (!sp.url || !this.custom.delete(sp.url)) return;
    this.invalidate(sp);
  }

  private invalidate(sp: SearchParameter): void {
    for (const type of typesOf(sp)) this.byType.delete(type);
  }
}

/** @medplum/core adds parameters of its own (`_compartment`); we serve the R4 ones. */
function r4Only(params: Record<string, SearchParameter>): SearchParameter[] {
  return Object.values(params).filter((sp) => sp.url?.startsWith('http://hl7.org/fhir/SearchParameter/'));
}

/** The concrete types a SearchParameter's `base` names (`Resource` and `DomainResource` mean all). */
function typesOf(sp: SearchParameter): string[] {
  const bases: string[] = sp.base ?? [];
  if (bases.includes('Resource') || bases.includes('DomainResource')) return [...resourceTypes()];
  return bases.filter((base) => isResourceType(base));
}

function appliesTo(sp: SearchParameter, type: string): boolean {
  return typesOf(sp).includes(type);
}
