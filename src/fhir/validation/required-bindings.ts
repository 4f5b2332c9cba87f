import { definitionsSource, expandValueSet, stripVersion } from '../../terminology/index.js';

/**
 * Codes allowed by the R4 value sets that `code` elements are bound to with strength `required`.
 * Only "simple" value sets are expanded (compose.include of whole code systems or concept lists,
 * and of other simple value sets); anything with filters, or an unknown or incomplete code system,
 * is not expandable here, and then the binding is not checked.
 */

export interface CodeSet {
  readonly valueSet: string;
  /** The allowed codes (lower-cased when a code system of the value set is case-insensitive). */
  readonly codes: ReadonlySet<string>;
  readonly caseSensitive: boolean;
}

export function codeSetHas(set: CodeSet, code: string): boolean {
  return set.codes.has(set.caseSensitive ? code : code.toLowerCase());
}

const codeSets = new Map<string, CodeSet | null>();

/**
 * The codes of a value set (canonical URL, `|version` ignored), expanded once and cached;
 * `undefined` when it is not in the R4 value sets or cannot be expanded simply.
 */
export function requiredCodeSet(valueSetUrl: string): CodeSet | undefined {
  const url = stripVersion(valueSetUrl);
  let set = codeSets.get(url);
  if (set === undefined) {
    const expansion = expandValueSet(url, definitionsSource());
    const codes = expansion?.codes.map((c) => (expansion.caseSensitive ? c.code : c.code.toLowerCase()));
    set = expansion ? { valueSet: url, caseSensitive: expansion.caseSensitive, codes: new Set(codes) } : null;
    codeSets.set(url, set);
  }
  return set ?? undefined;
}

/** The issue text for a code outside its required value set. */
export function codeNotInValueSetText(code: string, set: CodeSet): string {
  const allowed = set.codes.size <= 12 ? ` (allowed: ${[...set.codes].join(', ')})` : '';
  return `Code "${code}" is not in the required value set ${set.valueSet}${allowed}`;
}
