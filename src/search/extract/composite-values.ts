import type { TypedValue } from '@medplum/core';
import type { ComponentParam } from '../registry.js';
import { foldText } from '../fold.js';
import { dateValues } from './date-values.js';
import { numberValues, quantityValues } from './quantity-values.js';
import { referenceValues } from './reference-values.js';
import type { CompositeRow } from './rows.js';
import { stringValues } from './string-values.js';
import { tokenValues } from './token-values.js';

type Slot = Partial<Omit<CompositeRow, 'param'>>;

/** One row: a value for each component, every column present (the SQL inserts them by name). */
function compositeRow(param: string, first: Slot, second: Slot, third: Slot): CompositeRow {
  return {
    param,
    c1System: first.c1System ?? null,
    c1Code: first.c1Code ?? null,
    c2System: second.c2System ?? null,
    c2Code: second.c2Code ?? null,
    c2Text: second.c2Text ?? null,
    c2Low: second.c2Low ?? null,
    c2High: second.c2High ?? null,
    c2CanonicalCode: second.c2CanonicalCode ?? null,
    c2CanonicalLow: second.c2CanonicalLow ?? null,
    c2CanonicalHigh: second.c2CanonicalHigh ?? null,
    c2DateLow: second.c2DateLow ?? null,
    c2DateHigh: second.c2DateHigh ?? null,
    c3Low: third.c3Low ?? null,
    c3High: third.c3High ?? null,
  };
}

/** The first component: a token, or a reference stored as `Type/id` in its code. */
function firstSlots(component: ComponentParam, values: TypedValue[], baseUrl: string): Slot[] {
  if (component.type === 'reference') {
    return values.flatMap((v) => referenceValues(v, baseUrl)).filter((r) => r.targetType).map((r) => ({ c1Code: `${r.targetType}/${r.targetId}` }));
  }
  return values.flatMap((v) => tokenValues(v)).filter((t) => t.code).map((t) => ({ c1System: t.system, c1Code: t.code }));
}

function secondSlots(component: ComponentParam, values: TypedValue[]): Slot[] {
  switch (component.type) {
    case 'token':
      return values.flatMap((v) => tokenValues(v)).map((t) => ({ c2System: t.system, c2Code: t.code, c2Text: t.text }));
    case 'quantity':
      return values.flatMap(quantityValues).map((q) => ({
        c2System: q.system, c2Code: q.code, c2Low: q.low, c2High: q.high,
        c2CanonicalCode: q.canonicalCode, c2CanonicalLow: q.canonicalLow, c2CanonicalHigh: q.canonicalHigh,
      }));
    case 'number':
      return values.flatMap(numberValues).map((n) => ({ c2Low: n.low, c2High: n.high }));
    case 'date':
      return values.flatMap(dateValues).map((d) => ({ c2DateLow: d.low, c2DateHigh: d.high }));
    case 'string':
      return values.flatMap(stringValues).map((s) => ({ c2Text: foldText(s) }));
    default:
      return [];
  }
}

function thirdSlots(component: ComponentParam, values: TypedValue[]): Slot[] {
  return component.type === 'number' ? values.flatMap(numberValues).map((n) => ({ c3Low: n.low, c3High: n.high })) : [];
}

/** A component's values on one composite element. */
export type ComponentValues = (component: ComponentParam, element: TypedValue) => TypedValue[];

/** A composite with no second or third component has one, empty, value there. */
const NONE: Slot[] = [{}];

/**
 * The rows of one composite element (e.g. an Observation, or one Observation.component): every
 * combination of its components' values, so that a search matches only values that belong to the
 * same element. A component's expression is relative to the element, and may use `%resource` (the
 * whole resource, e.g. MolecularSequence's `%resource.referenceSeq.chromosome`).
 */
export function compositeRows(param: string, element: TypedValue, components: ComponentParam[], baseUrl: string, componentValues: ComponentValues): CompositeRow[] {
  const valuesOf = (component: ComponentParam) => componentValues(component, element);
  const firsts = firstSlots(components[0], valuesOf(components[0]), baseUrl);
  const seconds = components[1] ? secondSlots(components[1], valuesOf(components[1])) : NONE;
  const thirds = components[2] ? thirdSlots(components[2], valuesOf(components[2])) : NONE;
  const rows: CompositeRow[] = [];
  for (const first of firsts) for (const second of seconds) for (const third of thirds) rows.push(compositeRow(param, first, second, third));
  return rows;
}
