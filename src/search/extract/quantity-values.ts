import type { TypedValue } from '@medplum/core';
import type { Money, Quantity, Range } from '@medplum/fhirtypes';
import { numberRange } from '../number-range.js';
import { toCanonical, UCUM_SYSTEM } from '../ucum.js';
import type { NumberRow, QuantityRow } from './rows.js';

export type QuantityValue = Omit<QuantityRow, 'param'>;
export type NumberValue = Omit<NumberRow, 'param'>;

const CURRENCY_SYSTEM = 'urn:iso:std:iso:4217';

/**
 * A stored number is the value itself, the range [v, v]: JSON does not keep a decimal's trailing
 * zeros (`2.0` arrives as 2), so the precision it was written with is unknowable, and the
 * searched value's precision is what search.html#number applies ("100 ... values in the range [99.5 ... 100.5)").
 */
function point(value: unknown): NumberValue | undefined {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value : undefined;
  const parsed = text === undefined ? undefined : numberRange(text);
  return parsed && { value: parsed.value, low: parsed.value, high: parsed.value };
}

/** A Range is explicitly the range [low, high] (search.html#prefix); a missing bound is open. */
function spanOf<T extends { low: string; high: string }>(low: T | undefined, high: T | undefined): Pick<T, 'low' | 'high'> {
  return { low: low?.low ?? '-Infinity', high: high?.high ?? 'Infinity' };
}

/** The values a number parameter indexes: a decimal or integer, or a Range (e.g. RiskAssessment.prediction.probability[x]). */
export function numberValues(value: TypedValue): NumberValue[] {
  if (value.type === 'Range') {
    const range = value.value as Range;
    const low = point(range.low?.value);
    const high = point(range.high?.value);
    const either = low ?? high;
    return either ? [{ value: either.value, ...spanOf(low, high) }] : [];
  }
  const single = point(value.value);
  return single ? [single] : [];
}

function quantityValue(quantity: Quantity): QuantityValue | undefined {
  const single = point(quantity.value);
  if (!single) return undefined;
  const canonical = quantity.system === UCUM_SYSTEM && quantity.code ? toCanonical(quantity.code, Number(single.value)) : undefined;
  return {
    system: quantity.system ?? null,
    code: quantity.code ?? null,
    unit: quantity.unit ?? null,
    ...single,
    canonicalCode: canonical?.code ?? null,
    canonicalLow: canonical ? String(canonical.value) : null,
    canonicalHigh: canonical ? String(canonical.value) : null,
  };
}

/** A Range searched as a quantity spans from its low to its high, in its units and in canonical units. */
function rangeValue(range: Range): QuantityValue | undefined {
  const low = range.low && quantityValue(range.low);
  const high = range.high && quantityValue(range.high);
  const either = low ?? high;
  if (!either) return undefined;
  // Comparable in canonical units only when every bound present converts to the same base units.
  const canonicalCode = [low, high].every((b) => !b || (b.canonicalCode && b.canonicalCode === either.canonicalCode)) ? either.canonicalCode : null;
  return {
    ...either,
    ...spanOf(low, high),
    canonicalCode,
    canonicalLow: canonicalCode === null ? null : (low?.canonicalLow ?? '-Infinity'),
    canonicalHigh: canonicalCode === null ? null : (high?.canonicalHigh ?? 'Infinity'),
  };
}

/** The quantities a quantity parameter indexes (search.html#quantity): Quantity and its kinds, Money, Range. */
export function quantityValues(value: TypedValue): QuantityValue[] {
  let result: QuantityValue | undefined;
  if (value.type === 'Range') result = rangeValue(value.value as Range);
  else if (value.type === 'Money') {
    const money = value.value as Money;
    result = quantityValue({ value: money.value, system: CURRENCY_SYSTEM, code: money.currency });
  } else if (typeof value.value === 'number') result = quantityValue({ value: value.value });
  else result = quantityValue(value.value as Quantity);
  return result ? [result] : [];
}
