/** A decimal and the range its precision implies: `100` is [99.5, 100.5), `1.50` is [1.495, 1.505). */
export interface NumberRange {
  value: string;
  low: string;
  high: string;
}

const DECIMAL = /^[+-]?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/** Decimal arithmetic on strings is avoided: the bounds are computed in a scaled integer space with BigInt. */
export function numberRange(text: string): NumberRange | undefined {
  const match = DECIMAL.exec(text.trim());
  if (!match) return undefined;
  const [, , fraction = '', exponentText] = match;
  const exponent = Number(exponentText ?? 0);
  // Digits after the decimal point once the exponent is applied: the precision of the value.
  const decimals = Math.max(0, fraction.length - exponent);
  const scale = decimals + 1;
  const scaled = toScaled(text.trim(), scale);
  const half = 5n; // half a unit of the last significant digit, in the scaled space
  return { value: fromScaled(scaled, scale), low: fromScaled(scaled - half, scale), high: fromScaled(scaled + half, scale) };
}

/** `text` multiplied by 10^scale, as an exact integer. */
function toScaled(text: string, scale: number): bigint {
  const match = DECIMAL.exec(text) as RegExpExecArray;
  const negative = text.startsWith('-');
  const [, whole, fraction = '', exponentText] = match;
  const shift = scale + Number(exponentText ?? 0);
  let digits = whole + fraction;
  let point = whole.length + shift;
  if (point < 0) {
    digits = '0'.repeat(-point) + digits;
    point = 0;
  }
  const integerPart = (digits.slice(0, point) || '0').padEnd(point, '0');
  const magnitude = BigInt(integerPart);
  return negative ? -magnitude : magnitude;
}

function fromScaled(scaled: bigint, scale: number): string {
  const negative = scaled < 0n;
  const digits = (negative ? -scaled : scaled).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale).replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}
