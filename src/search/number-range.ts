/**
 * A decimal and the range its precision implies (search.html#number): `100` is [99.5, 100.5),
 * `1.50` is [1.495, 1.505), `5.40e-3` is [0.005395, 0.005405), and `1e2` - one significant digit,
 * of hundreds - is [50, 150). `value` is the decimal written out without exponent.
 */
export interface NumberRange {
  value: string;
  low: string;
  high: string;
}

const DECIMAL = /^([+-]?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/** Exponents beyond this are refused: no FHIR decimal (nor a JavaScript number) reaches them. */
const MAX_EXPONENT = 400;

/**
 * Decimal arithmetic is done exactly, on integers: a decimal is `unscaled × 10^-scale`, where
 * `scale` counts the digits after the point once the exponent is applied (negative when the last
 * significant digit is left of the point, as in `1e2`). Half a unit of that last digit is 5 at scale + 1.
 */
export function numberRange(text: string): NumberRange | undefined {
  const match = DECIMAL.exec(text.trim());
  if (!match) return undefined;
  const [, sign, whole, fraction = '', exponentText = '0'] = match;
  const exponent = Number(exponentText);
  if (Math.abs(exponent) > MAX_EXPONENT) return undefined;
  const unscaled = BigInt(`${sign === '-' ? '-' : ''}${whole}${fraction}`);
  const scale = fraction.length - exponent;
  return {
    value: decimalText(unscaled, scale),
    low: decimalText(unscaled * 10n - 5n, scale + 1),
    high: decimalText(unscaled * 10n + 5n, scale + 1),
  };
}

/** `unscaled × 10^-scale` written as a plain decimal (no exponent, no trailing zeros after the point). */
function decimalText(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString();
  if (digits === '0') return '0';
  const sign = negative ? '-' : '';
  if (scale <= 0) return `${sign}${digits}${'0'.repeat(-scale)}`;
  const padded = digits.padStart(scale + 1, '0');
  const whole = padded.slice(0, padded.length - scale);
  const fraction = padded.slice(padded.length - scale).replace(/0+$/, '');
  return `${sign}${whole}${fraction ? `.${fraction}` : ''}`;
}
