import type { CodeSystem, CodeSystemConcept } from '@medplum/fhirtypes';

/** The path of concepts from the root down to `code`, or undefined when the code is not in the system. */
function pathTo(concepts: CodeSystemConcept[] | undefined, code: string): CodeSystemConcept[] | undefined {
  for (const concept of concepts ?? []) {
    if (concept.code === code) return [concept];
    const below = pathTo(concept.concept, code);
    if (below) return [concept, ...below];
  }
  return undefined;
}

function allCodes(concept: CodeSystemConcept): string[] {
  return [concept.code, ...(concept.concept ?? []).flatMap(allCodes)];
}

/** True when the code system's concepts are nested: only then do `:above` and `:below` mean something. */
export function isHierarchical(codeSystem: CodeSystem): boolean {
  return (codeSystem.concept ?? []).some((concept) => (concept.concept?.length ?? 0) > 0);
}

/** The concept of a code, wherever it is nested. */
export function findConcept(codeSystem: CodeSystem, code: string): CodeSystemConcept | undefined {
  return pathTo(codeSystem.concept, code)?.at(-1);
}

/** The code and everything under it (`:below`, subsumed-by). */
export function codeAndDescendants(codeSystem: CodeSystem, code: string): string[] | undefined {
  const path = pathTo(codeSystem.concept, code);
  return path && allCodes(path[path.length - 1]);
}

/** The code and everything above it (`:above`, subsumes). */
export function codeAndAncestors(codeSystem: CodeSystem, code: string): string[] | undefined {
  return pathTo(codeSystem.concept, code)?.map((concept) => concept.code);
}
