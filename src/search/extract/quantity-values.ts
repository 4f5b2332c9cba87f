import type { TypedValue } from '@medplum/core';
import type { Money, Quantity, Range } from '@medplum/fhirtypes';
import { numberRange } from '../number-range.js';
import { toCanonical, UCUM_SYSTEM } from '../ucum.js';
import type { NumberRow, QuantityRow } from './rows.js';

export type QuantityValue = Omit<QuantityRow, 'param'>;
export type NumberValue = Omit<NumberRow, 'param'>;

const CURRENCY_SYSTEM = 'urn:iso:std:iso:4217';

/** A number with the range its precision implies (search.html#number). */
export function numberValues(value: TypedValue): NumberValue[] {
  const range = typeof value.value === 'number' || typeof value.value === 'string' ? numberRange(String(value.value)) : undefined;
  return range ? [range] : [];
}

function canonicalBound(quantity: Quantity, bound: string): number | undefined {
  if (quantity.system !== UCUM_SYSTEM || !quantity.code) return undefined;
  return toCanonical(quantity.code, Number(bound))?.value;
}

function quantityValue(quantity: Quantity): QuantityValue | undefined {
  if (quantity.value === undefined) return undefined;
  const range = numberRange(String(quantity.value));
  if (!range) return undefined;
  const canonical = quantity.system === UCUM_SYSTEM && quantity.code ? toCanonical(quantity.code, quantity.value) : undefined;
  const canonicalLow = canonical ? canonicalBound(quantity, range.low) : undefined;
  const canonicalHigh = canonical ? canonicalBound(quantity, range.high) : undefined;
  return {
    system: quantity.system ?? null,
    code: quantity.code ?? null,
    unit: quantity.unit ?? null,
    ...range,
    canonicalCode: canonical?.code ?? null,
    canonicalLow: canonicalLow === undefined ? null : String(canonicalLow),
    canonicalHigh: canonicalHigh === undefined ? null : String(canonicalHigh),
  };
}

/** A Range searched as a quantity spans from its low to its high. */
function rangeValue(range: Range): QuantityValue | undefined {
  const low = range.low && quantityValue(range.low);
  const high = range.high && quantityValue(range.high);
  if (!low && !high) return undefined;
  const unitOf = low ?? (high as QuantityValue);
  return {
    ...unitOf,
    low: low?.low ?? '-Infinity',
    high: high?.high ?? 'Infinity',
    canonicalLow: low?.canonicalLow ?? null,
    canonicalHigh: high?.canonicalHigh ?? null,
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
