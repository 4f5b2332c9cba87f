import type { Patient, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { FhirError } from '../../../src/errors.js';
import { applyJsonPatch } from '../../../src/fhir/patch/index.js';

const patient: Patient = {
  resourceType: 'Patient',
  id: 'p1',
  active: true,
  name: [{ family: 'Chalmers', given: ['Peter', 'James'] }],
  birthDate: '1974-12-25',
};

function thrownBy(fn: () => unknown): FhirError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FhirError);
    return err as FhirError;
  }
  throw new Error('expected a FhirError, nothing was thrown');
}

function expectInvalidPatch(fn: () => unknown, message?: RegExp): void {
  const error = thrownBy(fn);
  expect(error).toMatchObject({ status: 400, code: 'invalid-patch', issueType: 'invalid' });
  if (message) expect(error.message).toMatch(message);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) Object.values(value).forEach(deepFreeze);
  return Object.freeze(value);
}

describe('applyJsonPatch', () => {
  it('applies add, remove, replace, move, copy and test in order', () => {
    const result = applyJsonPatch(patient, [
      { op: 'test', path: '/active', value: true },
      { op: 'replace', path: '/active', value: false },
      { op: 'add', path: '/name/0/given/-', value: 'Jim' },
      { op: 'add', path: '/gender', value: 'male' },
      { op: 'remove', path: '/birthDate' },
      { op: 'move', from: '/name/0/given/0', path: '/name/0/given/2' },
      { op: 'copy', from: '/name/0', path: '/name/1' },
    ]);
    expect(result).toEqual({
      resourceType: 'Patient',
      id: 'p1',
      active: false,
      gender: 'male',
      name: [
        { family: 'Chalmers', given: ['James', 'Jim', 'Peter'] },
        { family: 'Chalmers', given: ['James', 'Jim', 'Peter'] },
      ],
    });
  });

  it('accepts an empty patch and returns an equal copy', () => {
    const result = applyJsonPatch(patient, []);
    expect(result).toEqual(patient);
    expect(result).not.toBe(patient);
  });

  it('never mutates the resource or the patch, and shares no objects with either', () => {
    const input = deepFreeze(structuredClone(patient));
    const operations = deepFreeze([{ op: 'add', path: '/telecom', value: [{ system: 'phone', value: '555' }] }]);
    const result = applyJsonPatch(input, operations) as Patient;
    expect(input).toEqual(patient);
    expect(result.telecom).toEqual([{ system: 'phone', value: '555' }]);
    expect(result.telecom).not.toBe(operations[0].value);
    expect(result.name).not.toBe(input.name);
  });

  it('rejects a failed test operation with 422 business-rule naming the path', () => {
    const error = thrownBy(() => applyJsonPatch(patient, [{ op: 'test', path: '/birthDate', value: '2000-01-01' }]));
    expect(error).toMatchObject({ status: 422, code: 'business-rule', message: 'JSON Patch test operation failed at /birthDate' });
  });

  it('leaves the resource untouched when a later operation fails', () => {
    const input = structuredClone(patient);
    expectInvalidPatch(() =>
      applyJsonPatch(input, [
        { op: 'replace', path: '/active', value: false },
        { op: 'remove', path: '/deceasedBoolean' },
      ]),
    );
    expect(input).toEqual(patient);
  });

  it.each([
    ['not an array', { op: 'add', path: '/gender', value: 'male' }, /must be an array/],
    ['an operation that is not an object', ['add'], /operation 1: Operation is not an object/],
    ['an unknown op', [{ op: 'merge', path: '/gender', value: 'male' }], /operation 1 at "\/gender": .*`op`/],
    ['a missing path', [{ op: 'remove' }], /`path` property is not a string/],
    ['a path not starting with /', [{ op: 'remove', path: 'gender' }], /must start with "\/"/],
    ['a missing value', [{ op: 'add', path: '/gender' }], /`value` property is not present/],
    ['a missing from', [{ op: 'move', path: '/gender' }], /`from` property is not present/],
    ['replacing a path that does not exist', [{ op: 'replace', path: '/gender', value: 'male' }], /path that does not exist/],
    ['removing a path that does not exist', [{ op: 'remove', path: '/name/3' }], /path that does not exist/],
    ['moving from a path that does not exist', [{ op: 'move', from: '/gender', path: '/x' }], /from a path that does not exist/],
    ['adding past the end of an array', [{ op: 'add', path: '/name/5', value: {} }], /greater than the number of elements/],
    ['an add under a missing parent', [{ op: 'add', path: '/contact/0/name', value: {} }], /Cannot perform an `add`/],
    ['a prototype modification', [{ op: 'add', path: '/__proto__/polluted', value: true }], /banned/],
  ])('rejects %s with 400 invalid-patch', (_, operations, message) => {
    expectInvalidPatch(() => applyJsonPatch(patient, operations), message);
  });

  it('does not echo the whole resource in its error messages', () => {
    const error = thrownBy(() => applyJsonPatch(patient, [{ op: 'remove', path: '/gender' }]));
    expect(error.message).toBe('Invalid patch: operation 1 at "/gender": Cannot perform the operation at a path that does not exist');
  });

  it.each([
    ['replacing the id', [{ op: 'replace', path: '/id', value: 'other' }]],
    ['removing the id', [{ op: 'remove', path: '/id' }]],
    ['replacing the resourceType', [{ op: 'replace', path: '/resourceType', value: 'Practitioner' }]],
    ['replacing the whole resource', [{ op: 'replace', path: '', value: { resourceType: 'Patient', id: 'p2' } }]],
    ['replacing the resource with a non-object', [{ op: 'replace', path: '', value: 42 }]],
  ])('rejects %s with 400 invalid-patch', (_, operations) => {
    expectInvalidPatch(() => applyJsonPatch(patient, operations), /resourceType or id/);
  });

  it('allows replacing the whole resource when type and id stay the same', () => {
    const replacement: Resource = { resourceType: 'Patient', id: 'p1', active: false };
    expect(applyJsonPatch(patient, [{ op: 'replace', path: '', value: replacement }])).toEqual(replacement);
  });
});
