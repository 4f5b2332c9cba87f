import { describe, expect, it } from 'vitest';
import { resourceTypes, structureDefinition } from '../../src/definitions/index.js';
import { definitionsSource } from '../../src/terminology/index.js';

describe('the R4 definitions held in memory', () => {
  it('keep what the server computes with: snapshot elements with their types, cardinality, bindings and constraints', () => {
    const patient = structureDefinition('Patient');
    const gender = patient?.snapshot?.element?.find((e) => e.path === 'Patient.gender');
    expect(gender).toMatchObject({ min: 0, max: '1', type: [{ code: 'code' }], isSummary: true, binding: { strength: 'required' } });
    expect(patient?.snapshot?.element?.[0].constraint?.map((c) => c.key)).toContain('dom-2');
    expect(resourceTypes()).toHaveLength(146);
  });

  it('drop what only people read: narrative, differential, mappings and element prose', () => {
    const patient = structureDefinition('Patient');
    expect(patient).not.toHaveProperty('text');
    expect(patient).not.toHaveProperty('differential');
    expect(patient).not.toHaveProperty('mapping');
    const name = patient?.snapshot?.element?.find((e) => e.path === 'Patient.name');
    expect(name).not.toHaveProperty('definition');
    expect(name).not.toHaveProperty('comment');
    expect(name).not.toHaveProperty('requirements');
    expect(name).not.toHaveProperty('mapping');
  });

  it('keep ValueSets and CodeSystems without their narrative', () => {
    const gender = definitionsSource().codeSystem('http://hl7.org/fhir/administrative-gender');
    expect(gender?.concept?.map((c) => c.code)).toEqual(['male', 'female', 'other', 'unknown']);
    expect(gender).not.toHaveProperty('text');
  });
});
