import { evalFhirPathTyped, toTypedValue, type TypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { SearchParam, SearchParameterRegistry } from '../registry.js';
import { foldText } from '../fold.js';
import { compositeValues } from './composite-values.js';
import { dateValues } from './date-values.js';
import { numberValues, quantityValues } from './quantity-values.js';
import { referenceValues } from './reference-values.js';
import { emptyRows, type IndexRows } from './rows.js';
import { stringValues } from './string-values.js';
import { textValues } from './text-values.js';
import { tokenValues } from './token-values.js';

export type { IndexRows } from './rows.js';
export { parseReference } from './reference-values.js';

/** The index tables one parameter's rows go to (the text table is the resource's, not a parameter's). */
const TABLES = ['string', 'token', 'date', 'number', 'quantity', 'reference', 'uri', 'composite'] as const;

function addValues(rows: IndexRows, param: SearchParam, values: TypedValue[], baseUrl: string, resource: TypedValue): void {
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
      for (const element of values) {
        for (const composite of compositeValues(element, param.components, baseUrl, resource)) rows.composite.push({ param: code, ...composite });
      }
      break;
    default:
      break;
  }
}

/**
 * The resource with its references on our own base made relative (`http://fhir.test/fhir/Patient/1`
 * becomes `Patient/1`): the two are the same reference (search.html#reference), and FHIRPath's
 * resolve(), which parameters such as `patient` use (`subject.where(resolve() is Patient)`), only
 * knows the type of the relative form.
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
 * Every index row of a resource: each search parameter of its type evaluated by its FHIRPath
 * expression (compiled once, in the registry), the values turned into rows by parameter type.
 * A parameter whose expression fails on odd data indexes nothing rather than failing the write.
 */
export function extractIndexRows(resource: Resource, registry: SearchParameterRegistry, baseUrl: string): IndexRows {
  const rows = emptyRows();
  const root = toTypedValue(withLocalReferences(resource, `${baseUrl}/`) as Resource);
  for (const param of registry.forType(resource.resourceType).values()) {
    if (!param.expression || param.column) continue;
    // Each parameter's rows are built apart and kept only when building them succeeded, so that
    // a failing expression (a composite's components are evaluated here too) costs only its own rows.
    const own = emptyRows();
    try {
      const values = evalFhirPathTyped(param.expression, [root]);
      if (values.length > 0) addValues(own, param, values, baseUrl, root);
    } catch {
      continue;
    }
    for (const table of TABLES) (rows[table] as unknown[]).push(...own[table]);
  }
  rows.text = textValues(resource);
  return rows;
}
