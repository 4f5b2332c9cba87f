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

function addValues(rows: IndexRows, param: SearchParam, values: TypedValue[], baseUrl: string): void {
  const { code } = param;
  switch (param.type) {
    case 'string':
      for (const text of values.flatMap(stringValues)) rows.string.push({ param: code, value: foldText(text), exact: text });
      break;
    case 'token':
      for (const token of values.flatMap(tokenValues)) rows.token.push({ param: code, ...token });
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
        for (const composite of compositeValues(element, param.components, baseUrl)) rows.composite.push({ param: code, ...composite });
      }
      break;
    default:
      break;
  }
}

/**
 * Every index row of a resource: each search parameter of its type evaluated by its FHIRPath
 * expression (compiled once, in the registry), the values turned into rows by parameter type.
 * A parameter whose expression fails on odd data indexes nothing rather than failing the write.
 */
export function extractIndexRows(resource: Resource, registry: SearchParameterRegistry, baseUrl: string): IndexRows {
  const rows = emptyRows();
  const input = [toTypedValue(resource)];
  for (const param of registry.forType(resource.resourceType).values()) {
    if (!param.expression || param.column) continue;
    let values: TypedValue[];
    try {
      values = evalFhirPathTyped(param.expression, input);
    } catch {
      continue;
    }
    if (values.length > 0) addValues(rows, param, values, baseUrl);
  }
  rows.text = textValues(resource);
  return rows;
}
