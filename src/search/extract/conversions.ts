import type { TypedValue } from '@medplum/core';
import { quantityValues, type QuantityValue } from './quantity-values.js';
import { tokenValues, type TokenValue } from './token-values.js';

interface Converted<T> {
  type: string;
  values: T[];
}

/**
 * One resource's elements converted to token and quantity values, each once: several parameters
 * convert the same element (an Observation's code by `code`, `combo-code` and six composites, its
 * value by four quantity parameters). Keyed by the element's JSON object and type; a primitive
 * (whose token may depend on the parameter's implicit system) is converted every time. The
 * converted values are shared, and never changed by those who read them.
 */
export class Conversions {
  private readonly tokenCache = new Map<object, Converted<TokenValue>>();
  private readonly quantityCache = new Map<object, Converted<QuantityValue>>();

  tokens(value: TypedValue, implicitSystem?: string): TokenValue[] {
    return converted(this.tokenCache, value, () => tokenValues(value, implicitSystem));
  }

  quantities(value: TypedValue): QuantityValue[] {
    return converted(this.quantityCache, value, () => quantityValues(value));
  }
}

function converted<T>(cache: Map<object, Converted<T>>, value: TypedValue, convert: () => T[]): T[] {
  const key = value.value;
  if (key === null || typeof key !== 'object') return convert();
  const known = cache.get(key);
  if (known?.type === value.type) return known.values;
  const values = convert();
  if (!known) cache.set(key, { type: value.type, values });
  return values;
}
