import type { TypedValue } from '@medplum/core';
import type { ComponentParam } from '../registry.js';
import { foldText } from '../fold.js';
import { dateValues } from './date-values.js';
import type { Conversions } from './conversions.js';
import { numberValues } from './quantity-values.js';
import { referenceValues } from './reference-values.js';
import type { CompositeRow } from './rows.js';
import { stringValues } from './string-values.js';

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
function firstSlots(component: ComponentParam, values: TypedValue[], { baseUrl, conversions }: CompositeContext): Slot[] {
  if (component.type === 'reference') {
    return values.flatMap((v) => referenceValues(v, baseUrl)).filter((r) => r.targetType).map((r) => ({ c1Code: `${r.targetType}/${r.targetId}` }));
  }
  const slots: Slot[] = [];
  for (const value of values) for (const token of conversions.tokens(value)) if (token.code) slots.push({ c1System: token.system, c1Code: token.code });
  return slots;
}

function secondSlots(component: ComponentParam, values: TypedValue[], { conversions }: CompositeContext): Slot[] {
  switch (component.type) {
    case 'token':
      return values.flatMap((v) => conversions.tokens(v)).map((t) => ({ c2System: t.system, c2Code: t.code, c2Text: t.text }));
    case 'quantity':
      return values.flatMap((v) => conversions.quantities(v)).map((q) => ({
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

/** What a composite's rows are made with, besides the element. */
export interface CompositeContext {
  baseUrl: string;
  conversions: Conversions;
  /** A component's values on one composite element. */
  componentValues: (component: ComponentParam, element: TypedValue) => TypedValue[];
}

/** A composite with no second or third component has one, empty, value there. */
const NONE: Slot[] = [{}];

/**
 * The rows of one composite element (e.g. an Observation, or one Observation.component): every
 * combination of its components' values, so that a search matches only values that belong to the
 * same element. A component's expression is relative to the element, and may use `%resource` (the
 * whole resource, e.g. MolecularSequence's `%resource.referenceSeq.chromosome`).
 */
export function compositeRows(param: string, element: TypedValue, components: ComponentParam[], context: CompositeContext): CompositeRow[] {
  const valuesOf = (component: ComponentParam) => context.componentValues(component, element);
  const firsts = firstSlots(components[0], valuesOf(components[0]), context);
  const seconds = components[1] ? secondSlots(components[1], valuesOf(components[1]), context) : NONE;
  const thirds = components[2] ? thirdSlots(components[2], valuesOf(components[2])) : NONE;
  const rows: CompositeRow[] = [];
  for (const first of firsts) for (const second of seconds) for (const third of thirds) rows.push(compositeRow(param, first, second, third));
  return rows;
}
