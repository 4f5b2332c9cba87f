import { evalFhirPathTyped, toTypedValue, type FhirPathAtom, type TypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { ParamType, SearchParam, SearchParameterRegistry } from '../registry.js';
import { foldText } from '../fold.js';
import type { CompiledExpression, Scope } from './compile.js';
import { compositeRows, type ComponentValues } from './composite-values.js';
import { dateValues } from './date-values.js';
import { numberValues, quantityValues } from './quantity-values.js';
import { localValue } from './property.js';
import { referenceValues } from './reference-values.js';
import { emptyRows, type IndexRows } from './rows.js';
import { stringValues } from './string-values.js';
import { textValues } from './text-values.js';
import { tokenValues } from './token-values.js';

export type { IndexRows } from './rows.js';
export { parseReference } from './reference-values.js';

/** The index tables one parameter's rows go to (the text table is the resource's, not a parameter's). */
const TABLES = ['string', 'token', 'date', 'number', 'quantity', 'reference', 'uri', 'composite'] as const;

function addValues(rows: IndexRows, param: SearchParam, values: TypedValue[], baseUrl: string, evaluator: ResourceEvaluator): void {
  const { code } = param;
  switch (param.type) {
    case 'string':
      for (const text of values.flatMap(stringValues)) rows.string.push({ param: code, value: foldText(text), exact: text });
      break;
    case 'token':
      for (const token of values.flatMap((v) => tokenValues(v, param.implicitSystem))) rows.token.push({ param: code, ...token });
      break;
    case 'date':
      for (const range of values.flatMap(dateValues)) rows.date.push({ param: code, ...range });
      break;
    case 'number':
      for (const number of values.flatMap(numberValues)) rows.number.push({ param: code, ...number });
      break;
    case 'quantity':
      for (const quantity of values.flatMap(quantityValues)) rows.quantity.push({ param: code, ...quantity });
      break;
    case 'reference':
      for (const reference of values.flatMap((v) => referenceValues(v, baseUrl))) rows.reference.push({ param: code, ...reference });
      break;
    case 'uri':
      for (const v of values) if (typeof v.value === 'string') rows.uri.push({ param: code, uri: v.value });
      break;
    case 'composite':
      if (!param.components?.length) break;
      for (const element of values) rows.composite.push(...compositeRows(code, element, param.components, baseUrl, evaluator.componentValues(param)));
      break;
    default:
      break;
  }
}

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
 * Evaluates parameter expressions on one resource: compiled ones on the resource itself, the others
 * by core on a copy with local references, made on first use only.
 */
class ResourceEvaluator {
  private readonly root: TypedValue;
  private readonly scope: Scope;
  /** Components may use `%resource`; a parameter's own expression may not (core has no such variable there). */
  private readonly componentScope: Scope;
  private coreRoot?: TypedValue;

  constructor(
    private readonly resource: Resource,
    ownBase: string,
    private readonly evaluation: Evaluation,
  ) {
    this.root = toTypedValue(localValue(resource, ownBase));
    this.scope = { ownBase };
    this.componentScope = { ownBase, resource: this.root };
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

  /** The values of a composite's components on one of its elements; evaluated the way the composite was. */
  componentValues(param: SearchParam): ComponentValues {
    return this.compiledOf(param) ? this.compiledComponentValues : this.coreComponentValues;
  }

  // The registry compiles a composite only when all its components compile.
  private readonly compiledComponentValues: ComponentValues = (component, element) => component.compiled?.(element, this.componentScope) ?? [];

  private readonly coreComponentValues: ComponentValues = (component, element) =>
    evalFhirPathTyped(component.expression, [element], { '%resource': this.core() });
}

/** The index table each parameter type's rows go to. */
const TABLE_OF: Partial<Record<ParamType, (typeof TABLES)[number]>> = Object.fromEntries(TABLES.map((table) => [table, table]));

/**
 * Every index row of a resource: each search parameter of its type evaluated by its FHIRPath
 * expression (parsed and compiled once, in the registry), the values turned into rows by parameter
 * type. A parameter whose expression fails on odd data indexes nothing rather than failing the write.
 */
export function extractIndexRows(resource: Resource, registry: SearchParameterRegistry, baseUrl: string, evaluation: Evaluation = 'compiled'): IndexRows {
  const rows = emptyRows();
  const evaluator = new ResourceEvaluator(resource, `${baseUrl}/`, evaluation);
  for (const param of registry.forType(resource.resourceType).values()) {
    if (!param.expression || param.column) continue;
    const table = TABLE_OF[param.type];
    const kept = table ? rows[table].length : 0;
    try {
      const values = evaluator.values(param, param.expression);
      if (values.length > 0) addValues(rows, param, values, baseUrl, evaluator);
    } catch {
      // Only this parameter's rows go: a composite's components are evaluated while its rows are added.
      if (table) rows[table].length = kept;
    }
  }
  rows.text = textValues(resource);
  return rows;
}
