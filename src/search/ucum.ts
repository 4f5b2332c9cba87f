import ucum from '@lhncbc/ucum-lhc';

export const UCUM_SYSTEM = 'http://unitsofmeasure.org';

export interface CanonicalQuantity {
  /** The UCUM base units, e.g. `g.m-3`: two quantities are comparable when these are equal. */
  code: string;
  value: number;
}

const utils = ucum.UcumLhcUtils.getInstance();

/**
 * Canonical values are rounded to this many significant digits: conversion factors are binary
 * floating point, so 5400 umol/L and 5.4 mmol/L would otherwise differ in the last bit and compare
 * as unequal (3.251953818e24 against 3.2519538180000003e24).
 */
const SIGNIFICANT_DIGITS = 12;
const rounded = (value: number): number => Number(value.toPrecision(SIGNIFICANT_DIGITS));
const cache = new Map<string, { code: string; factor?: number } | null>();

function canonicalCode(unitToExp: Record<string, number>): string {
  return Object.entries(unitToExp)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([unit, exponent]) => (exponent === 1 ? unit : `${unit}${exponent}`))
    .join('.');
}

/**
 * A UCUM quantity in base units (search.html#quantity: "the server SHOULD compare in canonical
 * units"), so that `5.4|http://unitsofmeasure.org|mmol/L` and the same amount in `umol/L` compare.
 * Linear units are converted with a cached factor; special units (Cel, [degF]) each time.
 */
export function toCanonical(unit: string, value: number): CanonicalQuantity | undefined {
  let known = cache.get(unit);
  if (known === undefined) {
    const result = utils.convertToBaseUnits(unit, 1);
    known = result.status === 'succeeded' && result.unitToExp
      ? { code: canonicalCode(result.unitToExp), factor: result.fromUnitIsSpecial ? undefined : result.magnitude }
      : null;
    cache.set(unit, known);
  }
  if (!known) return undefined;
  if (known.factor !== undefined) return { code: known.code, value: rounded(value * known.factor) };
  const special = utils.convertToBaseUnits(unit, value);
  return special.status === 'succeeded' && special.magnitude !== undefined ? { code: known.code, value: rounded(special.magnitude) } : undefined;
}
