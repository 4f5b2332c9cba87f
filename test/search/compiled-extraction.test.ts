import { readdirSync, readFileSync } from 'node:fs';
import type { Bundle, Resource, SearchParameter } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { resourceTypes } from '../../src/definitions/index.js';
import { extractIndexRows, type IndexRows } from '../../src/search/extract/index.js';
import { SearchParameterRegistry } from '../../src/search/registry.js';
import { SHARED_DATA } from '../support/shared-data.js';

/**
 * The specification of the compiled search expressions (src/search/extract/compile.ts): on every
 * resource, the index rows they give are exactly the rows of @medplum/core's FHIRPath evaluator.
 */

const BASE = 'http://fhir.test/fhir';

function bundles(): Bundle[] {
  return ['synthea', 'inferno'].flatMap((folder) =>
    readdirSync(`${SHARED_DATA}/${folder}`)
      .filter((file) => file.endsWith('.json'))
      .map((file) => JSON.parse(readFileSync(`${SHARED_DATA}/${folder}/${file}`, 'utf8')) as Bundle),
  );
}

/**
 * The Bundle as the server stores its entries: `urn:uuid:` references rewritten to `Type/id`, and
 * every other reference written absolute on our own base, which must index as the relative one.
 */
function storedForm(bundle: Bundle): Bundle {
  const local = new Map((bundle.entry ?? []).map((e) => [e.fullUrl, `${e.resource?.resourceType}/${e.resource?.id}`]));
  let count = 0;
  const text = JSON.stringify(bundle).replace(/"reference":"([^"]+)"/g, (_match, reference: string) => {
    const target = local.get(reference) ?? reference;
    count++;
    return JSON.stringify({ reference: count % 2 === 0 && !target.includes(':') ? `${BASE}/${target}` : target }).slice(1, -1);
  });
  return JSON.parse(text) as Bundle;
}

/** Rows per table, each as JSON, sorted: the order rows come in is not part of the specification. */
function sortedRows(rows: IndexRows): Record<string, string[]> {
  return Object.fromEntries(Object.entries(rows).map(([table, list]) => [table, (Array.isArray(list) ? list : [list]).map((row) => JSON.stringify(row)).sort()]));
}

/** The rows of `rows` left after taking out each of `taken` once (a duplicate row counts). */
function without(rows: string[], taken: string[]): string[] {
  const left = [...rows];
  for (const row of taken) {
    const at = left.indexOf(row);
    if (at >= 0) left.splice(at, 1);
  }
  return left;
}

interface Mismatch {
  resource: string;
  table: string;
  compiledOnly: string[];
  coreOnly: string[];
}

function mismatches(resources: Resource[], registry: SearchParameterRegistry): Mismatch[] {
  const found: Mismatch[] = [];
  for (const resource of resources) {
    const compiled = sortedRows(extractIndexRows(resource, registry, BASE, 'compiled'));
    const core = sortedRows(extractIndexRows(resource, registry, BASE, 'core'));
    for (const table of Object.keys(core)) {
      if (JSON.stringify(compiled[table]) === JSON.stringify(core[table])) continue;
      found.push({
        resource: `${resource.resourceType}/${resource.id}`,
        table,
        compiledOnly: without(compiled[table], core[table]),
        coreOnly: without(core[table], compiled[table]),
      });
    }
  }
  return found;
}

const resourcesOf = (list: Bundle[]): Resource[] => list.flatMap((bundle) => (bundle.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : [])));

describe('compiled search parameter expressions', () => {
  const registry = new SearchParameterRegistry();

  it('compile every R4 search parameter expression', () => {
    const uncompiled = resourceTypes().flatMap((type) =>
      [...registry.forType(type).values()].filter((p) => p.expression && !p.column && !p.compiled).map((p) => `${type}.${p.code}: ${p.expression?.original}`),
    );
    expect(uncompiled).toEqual([]);
  });

  it('index every shared-data resource exactly as @medplum/core evaluates it, as sent and as stored', () => {
    const data = bundles();
    const sent = resourcesOf(data);
    const stored = resourcesOf(data.map(storedForm));
    expect(sent.length).toBeGreaterThan(10_000);
    expect(mismatches(sent, registry)).toEqual([]);
    expect(mismatches(stored, registry)).toEqual([]);
  }, 300_000);
});

describe('compiled expressions on tricky expressions and data', () => {
  const custom: Array<Pick<SearchParameter, 'code' | 'type' | 'expression'> & { base: string }> = [
    // A union drops duplicates (core's FHIRPath equality), across and within its branches.
    { base: 'Patient', code: 'x-names', type: 'string', expression: 'Patient.name.given | Patient.name.family | Patient.name.given' },
    // Core's as() function filters nothing (the `as` operator does).
    { base: 'Observation', code: 'x-as-function', type: 'token', expression: 'Observation.value.as(Quantity)' },
    { base: 'Observation', code: 'x-as-operator', type: 'quantity', expression: '(Observation.value as Quantity) | Observation.component.value.ofType(Quantity)' },
    // A choice element named by its JSON name: core finds `value[x]`, and reads whichever value is there.
    { base: 'Observation', code: 'x-json-name', type: 'token', expression: 'Observation.valueQuantity' },
    { base: 'Observation', code: 'x-indexer', type: 'token', expression: 'Observation.component[1].code' },
    { base: 'Observation', code: 'x-and', type: 'token', expression: "Observation.code.coding.where(system = 'http://loinc.org' and code.exists())" },
    { base: 'Observation', code: 'x-or', type: 'token', expression: "Observation.code.coding.where(system = 'urn:other' or code != '1234-5')" },
    { base: 'Observation', code: 'x-patient', type: 'reference', expression: 'Observation.subject.where(resolve() is Patient) | Observation.performer.where(resolve() is Patient)' },
    { base: 'Observation', code: 'x-focus-ref', type: 'reference', expression: 'Observation.focus' },
    { base: 'Observation', code: 'x-reference-string', type: 'uri', expression: 'Observation.subject.reference' },
    // No %resource outside a composite: core fails, and the parameter indexes nothing.
    { base: 'Observation', code: 'x-no-resource', type: 'token', expression: '%resource.status' },
    { base: 'Patient', code: 'x-deceased', type: 'token', expression: 'Patient.deceased.exists() and Patient.deceased != false' },
    { base: 'Patient', code: 'x-contact', type: 'string', expression: 'Patient.contact.name | Patient.contact.address' },
    { base: 'Patient', code: 'x-extension', type: 'token', expression: "Patient.extension.where(url = 'http://example.org/race').value" },
    { base: 'Bundle', code: 'x-first-entry-status', type: 'token', expression: 'Bundle.entry[0].resource.status' },
    // Not compiled (select()): evaluated by core, on the copy with local references.
    { base: 'Patient', code: 'x-select', type: 'reference', expression: 'Patient.generalPractitioner.select($this).where(resolve() is Practitioner)' },
  ];
  const registry = new SearchParameterRegistry();
  for (const sp of custom) registry.register({ resourceType: 'SearchParameter', url: `http://example.org/sp/${sp.code}`, status: 'active', name: sp.code, description: sp.code, ...sp, base: [sp.base] } as SearchParameter);

  const patient: Resource = {
    resourceType: 'Patient',
    id: 'p1',
    name: [
      { family: 'Doe', given: ['Jane', 'Jane', 'Ann'], _given: [null, { extension: [{ url: 'http://example.org/x', valueString: 'y' }] }] },
      { family: 'Jane', given: ['Zoë'] },
    ],
    deceasedBoolean: true,
    contact: [{ name: { family: 'Roe', given: ['Rick'] }, address: { city: 'Springfield' } }],
    extension: [{ url: 'http://example.org/race', valueCoding: { system: 'urn:race', code: 'x' } }],
    generalPractitioner: [{ reference: `${BASE}/Practitioner/gp1` }, { reference: 'Practitioner/gp2' }, { reference: 'Organization/o1' }],
    birthDate: '1970-01-01',
    _birthDate: { extension: [{ url: 'http://example.org/precision', valueCode: 'day' }] },
  } as Resource;
  const observation: Resource = {
    resourceType: 'Observation',
    id: 'o1',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '1234-5', display: 'Thing' }, { system: 'urn:other', code: 'z' }], text: 'Thing' },
    subject: { reference: `${BASE}/Patient/p1` },
    performer: [{ reference: 'Patient/p1' }, { reference: 'urn:uuid:4b1b0a8c-0c2f-4a8e-9d55-6b8f0b3f3c11' }, { reference: '#contained' }],
    focus: [{ reference: `${BASE}/Unknown/1` }, { reference: `${BASE}/Patient/p2/_history/3` }],
    valueCodeableConcept: { coding: [{ system: 'urn:v', code: 'positive' }] },
    component: [
      { code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 120, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
      { code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] }, valueQuantity: { value: 80, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
      { code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] }, valueQuantity: { value: 80, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
    ],
  } as Resource;

  // Composites whose components read `%resource`.
  const sequence: Resource = {
    resourceType: 'MolecularSequence',
    id: 's1',
    coordinateSystem: 0,
    patient: { reference: `${BASE}/Patient/p1` },
    referenceSeq: { chromosome: { coding: [{ system: 'http://hl7.org/fhir/chromosome-human', code: '1' }] }, referenceSeqId: { coding: [{ system: 'urn:seq', code: 'NC_000001.11' }] }, windowStart: 100, windowEnd: 200 },
    variant: [{ start: 120, end: 121 }, { start: 150 }],
  } as Resource;
  // A document, whose `composition` parameter is `Bundle.entry[0].resource`.
  const document: Resource = {
    resourceType: 'Bundle',
    id: 'b1',
    type: 'document',
    identifier: { system: 'urn:docs', value: 'd1' },
    timestamp: '2024-05-01T10:00:00Z',
    entry: [
      { fullUrl: `${BASE}/Composition/c1`, resource: { resourceType: 'Composition', id: 'c1', status: 'final', type: { text: 'Note' }, date: '2024-05-01', author: [{ reference: 'Practitioner/x' }], title: 'Note' } },
      { fullUrl: `${BASE}/MessageHeader/m1`, resource: { resourceType: 'MessageHeader', id: 'm1', eventCoding: { code: 'x' }, source: { endpoint: 'urn:x' } } },
    ],
  } as Resource;

  it('give the rows core gives', () => {
    expect(mismatches([patient, observation, sequence, document], registry)).toEqual([]);
  });

  it('compile what they can, and leave the rest to core', () => {
    const compiled = (type: string, code: string) => registry.get(type, code)?.compiled !== undefined;
    expect(custom.filter((sp) => !compiled(sp.base, sp.code)).map((sp) => sp.code)).toEqual(['x-select']);
  });

  it('read references on our own base as relative ones, without changing the resource', () => {
    const before = JSON.stringify(observation);
    const rows = extractIndexRows(observation, registry, BASE);
    const references = (param: string) => rows.reference.filter((r) => r.param === param).map((r) => r.url ?? `${r.targetType}/${r.targetId}`);
    expect(references('x-patient').sort()).toEqual(['Patient/p1']);
    expect(references('x-focus-ref').sort()).toEqual(['Patient/p2', 'Unknown/1']);
    expect(rows.uri.filter((r) => r.param === 'x-reference-string').map((r) => r.uri)).toEqual(['Patient/p1']);
    expect(rows.token.filter((r) => r.param === 'x-no-resource')).toEqual([]);
    expect(JSON.stringify(observation)).toBe(before);
  });

  it('give the rows of composites, of an Observation with components and of %resource components', () => {
    const composites = (resource: Resource, param: string) =>
      extractIndexRows(resource, registry, BASE).composite.filter((r) => r.param === param).map((r) => `${r.c1Code} ${r.c2Low} ${r.c3Low}`).sort();
    expect(composites(observation, 'component-code-value-quantity')).toEqual(['8462-4 80 null', '8462-4 80 null', '8480-6 120 null']);
    expect(composites(sequence, 'chromosome-variant-coordinate')).toEqual(['1 120 121']);
  });

  it('read into a resource held by an element, typed by the resource it is', () => {
    const rows = extractIndexRows(document, registry, BASE);
    expect(rows.token.filter((r) => r.param === 'x-first-entry-status').map((r) => r.code)).toEqual(['final']);
  });
});
