import type { SearchParameterRegistry } from './registry.js';
import { splitUnescaped } from './parse.js';

/**
 * Observation's `code-value-*` composites are rooted at the Observation itself, and their rows are
 * every combination of its codes with its value (extract/composite-values.ts). "Some code matches and
 * the value matches" is then exactly "some composite row matches both", so `code=X&value-quantity=gtY`
 * can be answered from one index of (code, value) rows: for a code 3,600 Observations of a million
 * have, those rows alone, where the two separate criteria joined 3,600 token rows with every
 * quantity row above Y.
 */
const IMPLIED: readonly { type: string; parts: readonly [string, string]; composite: string }[] = [
  { type: 'Observation', parts: ['code', 'value-quantity'], composite: 'code-value-quantity' },
  { type: 'Observation', parts: ['code', 'value-concept'], composite: 'code-value-concept' },
];

/** More pairs than this from two lists of ORed values are left as the two criteria. */
const MAX_COMBINATIONS = 16;

const R4 = 'http://hl7.org/fhir/SearchParameter/';

interface Criterion {
  key: string;
  values: string[];
}

/**
 * Whether a value means the same inside the composite: not with a `$` (the composite's separator),
 * nor a token `system|` (a coding with a system and no code has a token row but no composite row),
 * nor a quantity `n||unit` (the composite keeps a quantity's code, not its human unit).
 */
function keepsMeaning(value: string, isQuantity = false): boolean {
  if (value.includes('$') || value.endsWith('|')) return false;
  const pieces = isQuantity ? splitUnescaped(value, '|') : [];
  return !(pieces.length === 3 && pieces[1] === '' && pieces[2] !== '');
}

/**
 * The criteria with each implied pair (one plain `code` and one plain `value-quantity`, say) put
 * together as their composite, in the place of the first of them; other criteria unchanged. Only
 * the R4 parameters are paired: a custom SearchParameter of the same code may mean something else.
 * `replaced` are the criteria that were paired: built on their own too, their bad values are
 * reported under their own names.
 */
export function withImpliedComposites(registry: SearchParameterRegistry, type: string, criteria: Criterion[]): { criteria: Criterion[]; replaced: Criterion[] } {
  let result = criteria;
  const replaced: Criterion[] = [];
  for (const rule of IMPLIED) {
    if (rule.type !== type) continue;
    const params = [...rule.parts, rule.composite].map((code) => registry.get(type, code));
    if (params.some((p) => !p?.url.startsWith(R4))) continue;
    const [firsts, seconds] = rule.parts.map((part) => result.filter((c) => c.key === part));
    if (firsts.length !== 1 || seconds.length !== 1) continue;
    const [codes, values] = [firsts[0], seconds[0]];
    const secondIsQuantity = params[1]?.type === 'quantity';
    if (codes.values.length * values.values.length > MAX_COMBINATIONS) continue;
    if (!codes.values.every((v) => keepsMeaning(v)) || !values.values.every((v) => keepsMeaning(v, secondIsQuantity))) continue;
    const combined = { key: rule.composite, values: codes.values.flatMap((code) => values.values.map((value) => `${code}$${value}`)) };
    const at = Math.min(result.indexOf(codes), result.indexOf(values));
    result = result.filter((c) => c !== codes && c !== values);
    result.splice(at, 0, combined);
    replaced.push(codes, values);
  }
  return { criteria: result, replaced };
}
