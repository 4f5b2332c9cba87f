import type { CodeSystem, CodeSystemConcept, ValueSetComposeInclude } from '@medplum/fhirtypes';
import { findConcept } from './hierarchy.js';
import { stripVersion, type TerminologySource } from './sources.js';

export interface Coded {
  system?: string;
  code: string;
  display?: string;
}

export interface Expansion {
  codes: Coded[];
  /** False when a code system of the value set compares codes case-insensitively. */
  caseSensitive: boolean;
}

/** Every concept of a complete CodeSystem, nested ones included; undefined for a fragment or example. */
function codeSystemConcepts(codeSystem: CodeSystem | undefined): CodeSystemConcept[] | undefined {
  if (!codeSystem || (codeSystem.content !== undefined && codeSystem.content !== 'complete')) return undefined;
  const concepts: CodeSystemConcept[] = [];
  const visit = (level: CodeSystemConcept[] | undefined) => {
    for (const concept of level ?? []) {
      concepts.push(concept);
      visit(concept.concept);
    }
  };
  visit(codeSystem.concept);
  return concepts;
}

/**
 * Expands a value set whose definition is "simple": compose.include of whole code systems, of
 * concept lists, or of other simple value sets (with excludes), or a stored `expansion`. Anything
 * with filters, or an incomplete code system, cannot be expanded here: undefined.
 */
export function expandValueSet(url: string, source: TerminologySource, visiting = new Set<string>()): Expansion | undefined {
  const valueSet = source.valueSet(stripVersion(url));
  if (!valueSet || visiting.has(valueSet.url as string)) return undefined;
  if (!valueSet.compose?.include?.length && valueSet.expansion?.contains) {
    return {
      codes: valueSet.expansion.contains.filter((c) => c.code).map((c) => ({ system: c.system, code: c.code as string, display: c.display })),
      caseSensitive: true,
    };
  }
  if (!valueSet.compose?.include?.length) return undefined;
  visiting.add(valueSet.url as string);
  try {
    let caseSensitive = true;
    const collect = (include: ValueSetComposeInclude): Coded[] | undefined => {
      if (include.filter?.length) return undefined;
      if (include.valueSet?.length) {
        // system or concepts together with valueSet mean an intersection: not simple.
        if (include.system || include.concept) return undefined;
        const nested = include.valueSet.map((vs) => expandValueSet(vs, source, visiting));
        if (nested.some((n) => !n)) return undefined;
        caseSensitive &&= nested.every((n) => n?.caseSensitive);
        return nested.flatMap((n) => n?.codes ?? []);
      }
      const codeSystem = include.system ? source.codeSystem(include.system) : undefined;
      if (codeSystem?.caseSensitive === false) caseSensitive = false;
      if (include.concept?.length) {
        return include.concept.map((c) => ({ system: include.system, code: c.code, display: c.display ?? (codeSystem && findConcept(codeSystem, c.code)?.display) }));
      }
      return codeSystemConcepts(codeSystem)?.map((concept) => ({ system: include.system, code: concept.code, display: concept.display }));
    };
    const included = valueSet.compose.include.map(collect);
    if (included.some((i) => !i)) return undefined;
    const excluded = (valueSet.compose.exclude ?? []).map(collect);
    if (excluded.some((e) => !e)) return undefined;
    const key = (c: Coded) => `${c.system ?? ''}|${c.code}`;
    const drop = new Set(excluded.flat().map((c) => key(c as Coded)));
    return { codes: (included.flat() as Coded[]).filter((c) => !drop.has(key(c))), caseSensitive };
  } finally {
    visiting.delete(valueSet.url as string);
  }
}
