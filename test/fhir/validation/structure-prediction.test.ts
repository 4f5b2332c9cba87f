import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tryGetDataType } from '@medplum/core';
import type { Bundle } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { loadDefinitions, resourceTypes } from '../../../src/definitions/index.js';
import { objectSchema } from '../../../src/fhir/validation/element-index.js';
import { validateResource } from '../../../src/fhir/validation/index.js';
import { walkResource } from '../../../src/fhir/validation/resource-walker.js';
import { isMeaningfulReferenceWarning, structuralIssues } from '../../../src/fhir/validation/structure.js';
import { SHARED_DATA } from '../../support/shared-data.js';

/**
 * The walker predicts what @medplum/core's validator would report, so that the validator runs only
 * where the walker has a doubt. A prediction, when made, must be exactly the validator's findings,
 * less the reference warnings that validation drops anyway (isMeaningfulReferenceWarning).
 */

type Json = Record<string, unknown>;

const predicted = (resource: Json) => {
  loadDefinitions();
  return walkResource(resource, resource.resourceType as string).structure;
};
const medplum = (resource: Json) => {
  const { badReferences } = walkResource(resource, resource.resourceType as string);
  return structuralIssues(resource, resource.resourceType as string).issues.filter((i) => isMeaningfulReferenceWarning(i, badReferences));
};

const MEDICATION_REQUEST = {
  resourceType: 'MedicationRequest',
  status: 'active',
  intent: 'order',
  medicationCodeableConcept: { text: 'x' },
  subject: { reference: 'Patient/1' },
};

const PREDICTABLE: [string, Json][] = [
  ['a wrong reference target (a warning, which is kept)', { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Organization/1' } }],
  ['a wrong reference target in a choice element', { ...MEDICATION_REQUEST, reportedReference: { reference: 'Medication/1' } }],
  ['a conditional reference to the wrong type', { ...MEDICATION_REQUEST, subject: { reference: 'Organization?name=x' } }],
  ['references Medplum does not judge (urn:uuid:, absolute, #)', { ...MEDICATION_REQUEST, subject: { reference: 'urn:uuid:4f8c8f1c-3d55-4e8b-9a7a-0e6c8e0f2b11' }, requester: { reference: 'http://x.org/Practitioner/1' } }],
  [
    'primitive arrays with extensions on some items',
    { resourceType: 'Patient', name: [{ given: ['A', null, 'C'], _given: [null, { extension: [{ url: 'http://x', valueString: 'B' }] }, { id: 'c' }] }] },
  ],
  ['a primitive with extensions', { resourceType: 'Patient', birthDate: '2000-01-01', _birthDate: { extension: [{ url: 'http://x', valueDateTime: '2000-01-01T10:00:00Z' }] } }],
  [
    'nested extensions and a value extension (ext-1)',
    { resourceType: 'Patient', extension: [{ url: 'http://x', extension: [{ url: 'a', valueCoding: { code: 'b' } }, { url: 'c', valueBoolean: false }] }] },
  ],
  [
    'contained resources (dom-2, dom-4, dom-5 evaluated)',
    { resourceType: 'Patient', contained: [{ resourceType: 'Organization', id: 'o', name: 'Acme' }], managingOrganization: { reference: '#o' } },
  ],
  ['a narrative (txt-1, txt-2 on a primitive)', { resourceType: 'Patient', text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>' } }],
  ['an Observation with its own invariants (obs-6, obs-7)', { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueQuantity: { value: 1.5, unit: 'mg' } }],
  [
    'recursive backbone elements',
    { resourceType: 'Questionnaire', status: 'active', item: [{ linkId: '1', type: 'group', item: [{ linkId: '1.1', type: 'string' }] }] },
  ],
  [
    'nested resources',
    { resourceType: 'Bundle', type: 'transaction', entry: [{ fullUrl: 'urn:uuid:4f8c8f1c-3d55-4e8b-9a7a-0e6c8e0f2b11', resource: { resourceType: 'Patient', active: true }, request: { method: 'POST', url: 'Patient' } }] },
  ],
];

describe('a prediction, when made, is exactly what Medplum reports', () => {
  it.each(PREDICTABLE)('%s', (_name, resource) => {
    const prediction = predicted(resource);
    expect(prediction).toBeDefined();
    expect(prediction).toEqual(medplum(resource));
  });

  const dir = `${SHARED_DATA}/synthea`;
  const file = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort()[0] : undefined;
  it.skipIf(!file)('every resource of a Synthea bundle is predicted, as Medplum reports it', () => {
    const bundle = JSON.parse(readFileSync(join(dir, file as string), 'utf8')) as Bundle;
    for (const entry of bundle.entry ?? []) {
      const resource = entry.resource as unknown as Json;
      expect(predicted(resource)).toEqual(medplum(resource));
    }
  });
});

describe('what the walker leaves to Medplum', () => {
  it.each([
    ['an extension without value or extensions (ext-1)', { resourceType: 'Patient', extension: [{ url: 'http://x' }] }],
    ['a failed invariant of the resource (obs-6)', { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueString: 'a', dataAbsentReason: { text: 'b' } }],
    ['a failed invariant of an element (pat-1)', { resourceType: 'Patient', contact: [{ gender: 'male' }] }],
    ['an unknown property', { resourceType: 'Patient', nmae: 'x' }],
    ['a null', { resourceType: 'Patient', active: null }],
    ['a null array item without extensions', { resourceType: 'Patient', name: [{ given: ['A', null] }] }],
    [
      'a primitive with invariants and a `_name` partner (Narrative.div, txt-1 and txt-2)',
      { resourceType: 'Patient', text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>', _div: { id: 'd' } } },
    ],
    ['a primitive extension alone', { resourceType: 'Patient', _birthDate: { extension: [{ url: 'http://x', valueString: 'a' }] } }],
    ['a missing required element', { resourceType: 'Observation', code: { text: 'x' } }],
    ['a bad format', { resourceType: 'Patient', birthDate: '2000-1-1' }],
    ['a wrong JSON type', { resourceType: 'Patient', multipleBirthInteger: 1.5 }],
    ['two values of a choice element', { resourceType: 'Patient', deceasedBoolean: true, deceasedDateTime: '2020' }],
    ['a contained resource that contains another (dom-2)', { resourceType: 'Patient', contained: [{ resourceType: 'Patient', id: 'a', contained: [{ resourceType: 'Patient', id: 'b' }] }] }],
    ['two wrong reference targets (their order is Medplum\'s)', { ...MEDICATION_REQUEST, subject: { reference: 'Medication/1' }, requester: { reference: 'Medication/2' } }],
  ])('%s', (_name, resource) => {
    expect(predicted(resource)).toBeUndefined();
  });

  it('the `_name` partner of a name that extends a choice element\'s (SubstanceAmount.amountText and amount[x])', () => {
    loadDefinitions();
    expect(objectSchema('SubstanceAmount')?.props.get('amountText')?.shadowsChoice).toBe(true);
    const polymer = { resourceType: 'SubstancePolymer', repeat: [{ repeatUnit: [{ amount: { amountQuantity: { value: 1 }, _amountText: { id: 'a' }, amountText: 'a' } }] }] };
    expect(predicted(polymer)).toBeUndefined();
  });

  it('the R4 base definitions have no fixed values, patterns or slices, which the walker does not check', () => {
    loadDefinitions();
    const seen = new Set<string>();
    const pending = ['Element', ...resourceTypes()];
    const unchecked: string[] = [];
    while (pending.length > 0) {
      const type = pending.pop() as string;
      if (seen.has(type)) continue;
      seen.add(type);
      for (const [name, element] of Object.entries(tryGetDataType(type)?.elements ?? {})) {
        if (element.fixed || element.pattern || element.slicing?.slices.length) unchecked.push(`${type}.${name}`);
        pending.push(...element.type.map((t) => t.code));
      }
    }
    expect(seen.size).toBeGreaterThan(600);
    expect(unchecked).toEqual([]);
  });
});

describe('undefined values', () => {
  it('are absent, as in the JSON that is stored (a `_name: undefined` partner is no error)', () => {
    expect(validateResource({ resourceType: 'Patient', gender: 'male', _gender: undefined, active: undefined })).toEqual([]);
  });
});
