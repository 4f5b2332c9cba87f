import { evalFhirPathTyped, toTypedValue, type FhirPathAtom, type TypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { ParamType, SearchParam, SearchParameterRegistry } from '../registry.js';
import { foldText } from '../fold.js';
import type { CompiledExpression, Scope } from './compile.js';
import { compositeRows, type CompositeContext } from './composite-values.js';
import { Conversions } from './conversions.js';
import { dateValues } from './date-values.js';
import { numberValues } from './quantity-values.js';
import { localValue } from './property.js';
import { referenceValues } from './reference-values.js';
import { dateRow, emptyRows, numberRow, quantityRow, referenceRow, tokenRow, type IndexRows } from './rows.js';
import { stringValues } from './string-values.js';
import { textValues } from './text-values.js';

export type { IndexRows } from './rows.js';
export { parseReference } from './reference-values.js';

/** The index tables one parameter's rows go to (the text table is the resource's, not a parameter's). */
const TABLES = ['string', 'token', 'date', 'number', 'quantity', 'reference', 'uri', 'composite'] as const;

/** The index table each parameter type's rows go to. */
const TABLE_OF: Partial<Record<ParamType, (typeof TABLES)[number]>> = Object.fromEntries(TABLES.map((table) => [table, table]));

/**
 * The resource with its references on our own base made relative (`http://fhir.test/fhir/Patient/1`
 * becomes `Patient/1`): the two are the same reference (search.html#reference), and FHIRPath's
 * resolve(), which parameters such as `patient` use (`subject.where(resolve() is Patient)`), only
 * knows the type of the relative form. Core evaluates expressions on this copy; compiled
 * expressions read references the same way without it (extract/property.ts).
 */
function withLocalReferences(value: unknown, prefix: string): unknown {
  if (Array.isArray(value)) return value.map((item) => withLocalReferences(item, prefix));
  if (!value || typeof value !== 'object') return value;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    copy[key] = key === 'reference' && typeof item === 'string' && item.startsWith(prefix) ? item.slice(prefix.length) : withLocalReferences(item, prefix);
  }
  return copy;
}

/**
 * How parameter expressions are evaluated: `compiled`, by the expressions the registry compiled and
 * by @medplum/core for the others; or `core`, all by @medplum/core, the reference the compiled
 * expressions must agree with (test/search/compiled-extraction.test.ts).
 */
export type Evaluation = 'compiled' | 'core';

/**
 * One resource being indexed: compiled expressions are evaluated on the resource itself, the others
 * by core on a copy with local references, made on first use only.
 */
class ResourceExtraction {
  readonly conversions = new Conversions();
  private readonly root: TypedValue;
  private readonly scope: Scope;
  /** Components may use `%resource`; a parameter's own expression may not (core has no such variable there). */
  private readonly componentScope: Scope;
  private readonly compiledComposite: CompositeContext;
  private readonly coreComposite: CompositeContext;
  private coreRoot?: TypedValue;

  constructor(
    private readonly resource: Resource,
    readonly baseUrl: string,
    private readonly evaluation: Evaluation,
  ) {
    const ownBase = `${baseUrl}/`;
    this.root = toTypedValue(localValue(resource, ownBase));
    this.scope = { ownBase };
    this.componentScope = { ownBase, resource: this.root };
    this.compiledComposite = {
      baseUrl,
      conversions: this.conversions,
      // The registry compiles a composite only when all its components compile.
      componentValues: (component, element) => component.compiled?.(element, this.componentScope) ?? [],
    };
    this.coreComposite = {
      baseUrl,
      conversions: this.conversions,
      componentValues: (component, element) => evalFhirPathTyped(component.expression, [element], { '%resource': this.core() }),
    };
  }

  private core(): TypedValue {
    this.coreRoot ??= toTypedValue(withLocalReferences(this.resource, this.scope.ownBase) as Resource);
    return this.coreRoot;
  }

  private compiledOf(param: SearchParam): CompiledExpression | undefined {
    return this.evaluation === 'compiled' ? param.compiled : undefined;
  }

  values(param: SearchParam, expression: FhirPathAtom): TypedValue[] {
    const compiled = this.compiledOf(param);
    return compiled ? compiled(this.root, this.scope) : evalFhirPathTyped(expression, [this.core()]);
  }

  /** What a composite's rows are made with: its components are evaluated the way the composite was. */
  compositeContext(param: SearchParam): CompositeContext {
    return this.compiledOf(param) ? this.compiledComposite : this.coreComposite;
  }
}

function addValues(rows: IndexRows, param: SearchParam, values: TypedValue[], extraction: ResourceExtraction): void {
  const { code } = param;
  const { conversions, baseUrl } = extraction;
  switch (param.type) {
    case 'string':
      for (const value of values) for (const text of stringValues(value)) rows.string.push({ param: code, value: foldText(text), exact: text });
      break;
    case 'token':
      for (const value of values) for (const token of conversions.tokens(value, param.implicitSystem)) rows.token.push(tokenRow(code, token));
      break;
    case 'date':
      for (const value of values) for (const range of dateValues(value)) rows.date.push(dateRow(code, range));
      break;
    case 'number':
      for (const value of values) for (const number of numberValues(value)) rows.number.push(numberRow(code, number));
      break;
    case 'quantity':
      for (const value of values) for (const quantity of conversions.quantities(value)) rows.quantity.push(quantityRow(code, quantity));
      break;
    case 'reference':
      for (const value of values) for (const reference of referenceValues(value, baseUrl)) rows.reference.push(referenceRow(code, reference));
      break;
    case 'uri':
      for (const v of values) if (typeof v.value === 'string') rows.uri.push({ param: code, uri: v.value });
      break;
    case 'composite':
      if (!param.components?.length) break;
      for (const element of values) rows.composite.push(...compositeRows(code, element, param.components, extraction.compositeContext(param)));
      break;
    default:
      break;
  }
}

/**
 * Every index row of a resource: each search parameter of its type evaluated by its FHIRPath
 * expression (parsed and compiled once, in the registry), the values turned into rows by parameter
 * type. A parameter whose expression fails on odd data indexes nothing rather than failing the write.
 */
export function extractIndexRows(resource: Resource, registry: SearchParameterRegistry, baseUrl: string, evaluation: Evaluation = 'compiled'): IndexRows {
  const rows = emptyRows();
  const extraction = new ResourceExtraction(resource, baseUrl, evaluation);
  for (const param of registry.forType(resource.resourceType).values()) {
    if (!param.expression || param.column) continue;
    const table = TABLE_OF[param.type];
    const kept = table ? rows[table].length : 0;
    try {
      const values = extraction.values(param, param.expression);
      if (values.length > 0) addValues(rows, param, values, extraction);
    } catch {
      // Only this parameter's rows go: a composite's components are evaluated while its rows are added.
      if (table) rows[table].length = kept;
    }
  }
  rows.text = textValues(resource);
  return rows;
}
