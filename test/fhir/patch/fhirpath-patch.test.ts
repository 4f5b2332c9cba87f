import type { Parameters, ParametersParameter, Patient, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { FhirError } from '../../../src/errors.js';
import { applyFhirPathPatch } from '../../../src/fhir/patch/index.js';

/** One `operation` parameter: its type and path, then any other parts. */
function operation(type: string, path: string, ...parts: ParametersParameter[]): ParametersParameter {
  return { name: 'operation', part: [{ name: 'type', valueCode: type }, { name: 'path', valueString: path }, ...parts] };
}

function patch(...parameter: ParametersParameter[]): Parameters {
  return { resourceType: 'Parameters', parameter };
}

const name = (value: string): ParametersParameter => ({ name: 'name', valueString: value });
const index = (value: number): ParametersParameter => ({ name: 'index', valueInteger: value });
const source = (value: number): ParametersParameter => ({ name: 'source', valueInteger: value });
const destination = (value: number): ParametersParameter => ({ name: 'destination', valueInteger: value });
const value = (part: Omit<ParametersParameter, 'name'>): ParametersParameter => ({ name: 'value', ...part });

function thrownBy(fn: () => unknown): FhirError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FhirError);
    return err as FhirError;
  }
  throw new Error('expected a FhirError, nothing was thrown');
}

function expectInvalidPatch(fn: () => unknown, message?: RegExp): FhirError {
  const error = thrownBy(fn);
  expect(error).toMatchObject({ status: 400, code: 'invalid-patch', issueType: 'invalid' });
  if (message) expect(error.message).toMatch(message);
  return error;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) Object.values(value).forEach(deepFreeze);
  return Object.freeze(value);
}

const identifiers = (...values: number[]) => values.map((n) => ({ system: 'http://example.org', value: `value ${n}` }));

/** The test cases of the FHIR R4 specification (http://hl7.org/fhir/R4/test-cases.zip), in JSON. */
const specCases: [string, object, Parameters, object][] = [
  ['No Difference', { birthDate: '1920-01-01' }, patch(), { birthDate: '1920-01-01' }],
  [
    'Replace Primitive',
    { birthDate: '1920-01-01' },
    patch(operation('replace', 'Patient.birthDate', value({ valueDate: '1930-01-01' }))),
    { birthDate: '1930-01-01' },
  ],
  ['Delete Primitive', { birthDate: '1920-01-01' }, patch(operation('delete', 'Patient.birthDate')), {}],
  [
    'Add Primitive',
    {},
    patch(operation('add', 'Patient', name('birthDate'), value({ valueDate: '1930-01-01' }))),
    { birthDate: '1930-01-01' },
  ],
  [
    'Replace Nested Primitive #1',
    { contact: [{ name: { text: 'a name' }, gender: 'male' }] },
    patch(operation('replace', 'Patient.contact[0].gender', value({ valueCode: 'female' }))),
    { contact: [{ name: { text: 'a name' }, gender: 'female' }] },
  ],
  [
    'Replace Nested Primitive #2',
    { contact: [{ name: { text: 'a name' }, gender: 'male' }] },
    patch(operation('replace', 'Patient.contact[0].name.text', value({ valueString: 'the name' }))),
    { contact: [{ name: { text: 'the name' }, gender: 'male' }] },
  ],
  [
    'Delete Nested Primitive #1',
    { contact: [{ name: { text: 'a name' }, gender: 'male' }] },
    patch(operation('delete', 'Patient.contact[0].gender')),
    { contact: [{ name: { text: 'a name' } }] },
  ],
  [
    'Delete Nested Primitive #2',
    { contact: [{ name: { text: 'a name' }, gender: 'male' }] },
    patch(operation('delete', 'Patient.contact[0].name.text')),
    { contact: [{ gender: 'male' }] },
  ],
  [
    'Add Nested Primitive',
    { contact: [{ name: { text: 'a name' } }] },
    patch(operation('add', 'Patient.contact[0]', name('gender'), value({ valueCode: 'male' }))),
    { contact: [{ name: { text: 'a name' }, gender: 'male' }] },
  ],
  [
    'Add Complex',
    {},
    patch(operation('add', 'Patient', name('maritalStatus'), value({ valueCodeableConcept: { text: 'married' } }))),
    { maritalStatus: { text: 'married' } },
  ],
  [
    'Replace Complex',
    { maritalStatus: { id: '1', text: 'married' } },
    patch(operation('replace', 'Patient.maritalStatus', value({ valueCodeableConcept: { id: '2', text: 'not married' } }))),
    { maritalStatus: { id: '2', text: 'not married' } },
  ],
  ['Delete Complex', { maritalStatus: { text: 'married' } }, patch(operation('delete', 'Patient.maritalStatus')), {}],
  [
    'Add Anonymous Type',
    {},
    patch(operation('add', 'Patient', name('contact'), value({ part: [{ name: 'name', valueHumanName: { text: 'a name' } }] }))),
    { contact: [{ name: { text: 'a name' } }] },
  ],
  ['Delete Anonymous Type', { contact: [{ name: { text: 'a name' } }] }, patch(operation('delete', 'Patient.contact[0]')), {}],
  ['List unchanged', { identifier: identifiers(1, 2) }, patch(), { identifier: identifiers(1, 2) }],
  [
    'List unchanged contents changed',
    { identifier: [{ id: 'a', ...identifiers(1)[0] }, { id: 'b', ...identifiers(2)[0] }] },
    patch(
      operation('replace', 'Patient.identifier[0].value', value({ valueString: 'value 2' })),
      operation('replace', 'Patient.identifier[1].value', value({ valueString: 'value 1' })),
    ),
    { identifier: [{ id: 'a', ...identifiers(2)[0] }, { id: 'b', ...identifiers(1)[0] }] },
  ],
  [
    'Add to list',
    { identifier: identifiers(1, 2) },
    patch(operation('insert', 'Patient.identifier', index(2), value({ valueIdentifier: identifiers(3)[0] }))),
    { identifier: identifiers(1, 2, 3) },
  ],
  [
    'Insert in list #1',
    { identifier: identifiers(1, 2) },
    patch(operation('insert', 'Patient.identifier', index(1), value({ valueIdentifier: identifiers(3)[0] }))),
    { identifier: identifiers(1, 3, 2) },
  ],
  [
    'Insert in list #2',
    { identifier: identifiers(1, 2) },
    patch(operation('insert', 'Patient.identifier', index(0), value({ valueIdentifier: identifiers(3)[0] }))),
    { identifier: identifiers(3, 1, 2) },
  ],
  ['Delete from List #1', { identifier: identifiers(1, 2, 3) }, patch(operation('delete', 'Patient.identifier[0]')), { identifier: identifiers(2, 3) }],
  ['Delete from List #2', { identifier: identifiers(1, 2, 3) }, patch(operation('delete', 'Patient.identifier[1]')), { identifier: identifiers(1, 3) }],
  ['Delete from List #3', { identifier: identifiers(1, 2, 3) }, patch(operation('delete', 'Patient.identifier[2]')), { identifier: identifiers(1, 2) }],
  [
    'Reorder List #1',
    { identifier: identifiers(1, 2, 3, 4) },
    patch(operation('move', 'Patient.identifier', source(3), destination(1))),
    { identifier: identifiers(1, 4, 2, 3) },
  ],
  [
    'Reorder List #2',
    { identifier: identifiers(1, 2, 3, 4) },
    patch(operation('move', 'Patient.identifier', source(3), destination(0))),
    { identifier: identifiers(4, 1, 2, 3) },
  ],
  [
    'Reorder List #3',
    { identifier: identifiers(1, 2, 3, 4) },
    patch(operation('move', 'Patient.identifier', source(3), destination(2))),
    { identifier: identifiers(1, 2, 4, 3) },
  ],
  [
    'Reorder List #4',
    { identifier: identifiers(1, 2, 3, 4) },
    patch(operation('move', 'Patient.identifier', source(0), destination(3))),
    { identifier: identifiers(2, 3, 4, 1) },
  ],
  [
    'Reorder List #5',
    { identifier: identifiers(1, 2, 3, 4) },
    patch(
      operation('move', 'Patient.identifier', source(1), destination(0)),
      operation('move', 'Patient.identifier', source(2), destination(1)),
    ),
    { identifier: identifiers(2, 3, 1, 4) },
  ],
  [
    'Reorder List #6',
    { identifier: identifiers(1, 2, 3, 4) },
    patch(
      operation('move', 'Patient.identifier', source(3), destination(0)),
      operation('move', 'Patient.identifier', source(3), destination(1)),
      operation('move', 'Patient.identifier', source(3), destination(2)),
    ),
    { identifier: identifiers(4, 3, 2, 1) },
  ],
];

const withPatient = (content: object) => ({ resourceType: 'Patient', id: 'p1', ...content }) as Resource;

describe('applyFhirPathPatch', () => {
  it.each(specCases)('passes the specification test case "%s"', (_, input, parameters, expected) => {
    expect(applyFhirPathPatch(withPatient(input), parameters)).toEqual(withPatient(expected));
  });

  describe('selecting with FHIRPath', () => {
    const patient = withPatient({
      identifier: [
        { system: 'http://x', value: '1' },
        { system: 'http://y', value: '2' },
      ],
      name: [
        { use: 'official', family: 'Chalmers', given: ['Peter', 'James'] },
        { use: 'usual', given: ['Jim'] },
      ],
      telecom: [
        { system: 'phone', use: 'home', value: '555-1' },
        { system: 'phone', use: 'work', value: '555-2' },
      ],
    });

    it('inserts into and moves within a list of primitives', () => {
      const result = applyFhirPathPatch(
        patient,
        patch(
          operation('insert', 'Patient.name[0].given', index(1), value({ valueString: 'Jacob' })),
          operation('move', 'Patient.name[0].given', source(0), destination(2)),
        ),
      );
      expect(result).toMatchObject({ name: [{ given: ['Jacob', 'James', 'Peter'] }, { given: ['Jim'] }] });
    });

    it('replaces a primitive selected with where()', () => {
      const result = applyFhirPathPatch(patient, patch(operation('replace', "Patient.telecom.where(use='home').value", value({ valueString: '555-9' }))));
      expect(result).toMatchObject({ telecom: [{ use: 'home', value: '555-9' }, { use: 'work', value: '555-2' }] });
    });

    it('replaces and deletes list items selected with where()', () => {
      const result = applyFhirPathPatch(
        patient,
        patch(
          operation('replace', "Patient.identifier.where(system='http://y')", value({ valueIdentifier: { system: 'http://z', value: '3' } })),
          operation('delete', "Patient.identifier.where(system='http://x')"),
        ),
      );
      expect(result).toMatchObject({ identifier: [{ system: 'http://z', value: '3' }] });
    });

    it('replaces a complex element with a value built from parts', () => {
      const result = applyFhirPathPatch(
        patient,
        patch(
          operation(
            'replace',
            "Patient.name.where(use='official')",
            value({
              part: [
                { name: 'use', valueCode: 'official' },
                { name: 'family', valueString: 'Windsor' },
                { name: 'given', valueString: 'Charles' },
                { name: 'given', valueString: 'Philip' },
              ],
            }),
          ),
        ),
      );
      expect(result).toMatchObject({ name: [{ use: 'official', family: 'Windsor', given: ['Charles', 'Philip'] }, { use: 'usual' }] });
    });

    it('appends when add names a repeating element, creating the list if needed', () => {
      const result = applyFhirPathPatch(
        patient,
        patch(
          operation('add', 'Patient', name('identifier'), value({ part: [{ name: 'system', valueUri: 'http://w' }, { name: 'value', valueString: '4' }] })),
          operation('add', "Patient.name.where(use='usual')", name('given'), value({ valueString: 'Jimmy' })),
          operation('add', 'Patient', name('communication'), value({ part: [{ name: 'language', valueCodeableConcept: { text: 'Dutch' } }] })),
        ),
      ) as Patient;
      expect(result.identifier).toEqual([...((patient as Patient).identifier ?? []), { system: 'http://w', value: '4' }]);
      expect(result.name).toMatchObject([{ use: 'official' }, { use: 'usual', given: ['Jim', 'Jimmy'] }]);
      expect(result.communication).toEqual([{ language: { text: 'Dutch' } }]);
    });

    it('builds nested anonymous types from parts, following content references', () => {
      const questionnaire = { resourceType: 'Questionnaire', id: 'q1', status: 'draft', item: [{ linkId: '1', type: 'group' }] } as Resource;
      const result = applyFhirPathPatch(
        questionnaire,
        patch(
          operation(
            'add',
            'Questionnaire.item[0]',
            name('item'),
            value({
              part: [
                { name: 'linkId', valueString: '1.1' },
                { name: 'type', valueCode: 'choice' },
                { name: 'answerOption', part: [{ name: 'value', valueString: 'yes' }] },
                { name: 'item', part: [{ name: 'linkId', valueString: '1.1.1' }, { name: 'type', valueCode: 'display' }] },
              ],
            }),
          ),
        ),
      );
      expect(result).toMatchObject({
        item: [
          {
            linkId: '1',
            item: [{ linkId: '1.1', type: 'choice', answerOption: [{ valueString: 'yes' }], item: [{ linkId: '1.1.1', type: 'display' }] }],
          },
        ],
      });
    });

    it('adds a contained resource given as a part resource', () => {
      const practitioner = { resourceType: 'Practitioner', id: 'dr', active: true } as Resource;
      const result = applyFhirPathPatch(patient, patch(operation('add', 'Patient', name('contained'), value({ resource: practitioner }))));
      expect(result).toMatchObject({ contained: [practitioner] });
    });

    it('patches inside a contained resource', () => {
      const withContained = withPatient({ contained: [{ resourceType: 'Practitioner', id: 'dr', active: true }] });
      const result = applyFhirPathPatch(withContained, patch(operation('replace', 'Patient.contained.ofType(Practitioner).active', value({ valueBoolean: false }))));
      expect(result).toMatchObject({ contained: [{ resourceType: 'Practitioner', active: false }] });
    });

    it('deletes nothing, successfully, when the path matches nothing', () => {
      expect(applyFhirPathPatch(patient, patch(operation('delete', 'Patient.birthDate')))).toEqual(patient);
    });

    it('removes a list that a delete empties, and the objects left empty above it', () => {
      const result = applyFhirPathPatch(withPatient({ contact: [{ telecom: [{ value: '1' }] }] }), patch(operation('delete', 'Patient.contact.telecom.value')));
      expect(result).toEqual(withPatient({}));
    });
  });

  describe('choice elements', () => {
    it('adds a choice element under the name its value type gives', () => {
      const result = applyFhirPathPatch(withPatient({}), patch(operation('add', 'Patient', name('deceased'), value({ valueDateTime: '2020-01-01' }))));
      expect(result).toEqual(withPatient({ deceasedDateTime: '2020-01-01' }));
    });

    it('replaces a choice element with a value of another type', () => {
      const result = applyFhirPathPatch(
        withPatient({ deceasedBoolean: true, _deceasedBoolean: { id: 'x' } }),
        patch(operation('replace', 'Patient.deceased', value({ valueDateTime: '2020-01-01' }))),
      );
      expect(result).toEqual(withPatient({ deceasedDateTime: '2020-01-01' }));
    });

    it('deletes a choice element', () => {
      const result = applyFhirPathPatch(withPatient({ multipleBirthInteger: 2 }), patch(operation('delete', 'Patient.multipleBirth')));
      expect(result).toEqual(withPatient({}));
    });

    it('refuses to add a second value to a choice element', () => {
      expectInvalidPatch(
        () => applyFhirPathPatch(withPatient({ deceasedBoolean: true }), patch(operation('add', 'Patient', name('deceased'), value({ valueDateTime: '2020-01-01' })))),
        /Patient\.deceased\[x\] already has a value/,
      );
    });

    it('refuses an untyped (parts) value for a choice element', () => {
      expectInvalidPatch(
        () => applyFhirPathPatch(withPatient({}), patch(operation('add', 'Patient', name('deceased'), value({ part: [{ name: 'value', valueBoolean: true }] })))),
        /choice of types/,
      );
    });
  });

  describe('primitive extensions', () => {
    const extension = { extension: [{ url: 'http://example.org/source', valueString: 'registry' }] };

    it('deletes a primitive together with its extensions', () => {
      const result = applyFhirPathPatch(withPatient({ birthDate: '1920-01-01', _birthDate: extension }), patch(operation('delete', 'Patient.birthDate')));
      expect(result).toEqual(withPatient({}));
    });

    it('keeps the extensions of a primitive whose value is replaced', () => {
      const result = applyFhirPathPatch(
        withPatient({ birthDate: '1920-01-01', _birthDate: extension }),
        patch(operation('replace', 'Patient.birthDate', value({ valueDate: '1930-01-01' }))),
      );
      expect(result).toEqual(withPatient({ birthDate: '1930-01-01', _birthDate: extension }));
    });

    it('keeps the extension array of a primitive list aligned', () => {
      const input = withPatient({ name: [{ given: ['a', 'b'], _given: [null, extension] }] });
      const run = (...operations: ParametersParameter[]) => (applyFhirPathPatch(input, patch(...operations)) as { name: unknown[] }).name[0];
      expect(run(operation('insert', 'Patient.name.given', index(0), value({ valueString: 'z' })))).toEqual({ given: ['z', 'a', 'b'], _given: [null, null, extension] });
      expect(run(operation('add', 'Patient.name[0]', name('given'), value({ valueString: 'c' })))).toEqual({ given: ['a', 'b', 'c'], _given: [null, extension, null] });
      expect(run(operation('move', 'Patient.name.given', source(1), destination(0)))).toEqual({ given: ['b', 'a'], _given: [extension, null] });
      expect(run(operation('delete', 'Patient.name.given[0]'))).toEqual({ given: ['b'], _given: [extension] });
      expect(run(operation('delete', 'Patient.name.given[1]'))).toEqual({ given: ['a'] });
    });
  });

  describe('immutability', () => {
    it('never mutates the resource or the patch, and shares no objects with the patch', () => {
      const input = deepFreeze(withPatient({ identifier: identifiers(1, 2), birthDate: '1920-01-01' }));
      const identifier = { system: 'http://example.org', value: 'value 3' };
      const parameters = deepFreeze(
        patch(
          operation('insert', 'Patient.identifier', index(0), value({ valueIdentifier: identifier })),
          operation('delete', 'Patient.birthDate'),
          operation('move', 'Patient.identifier', source(0), destination(2)),
        ),
      );
      const result = applyFhirPathPatch(input, parameters) as { identifier: object[] };
      expect(input).toEqual(withPatient({ identifier: identifiers(1, 2), birthDate: '1920-01-01' }));
      expect(result.identifier).toEqual(identifiers(1, 2, 3));
      expect(result.identifier[2]).not.toBe(identifier);
    });

    it('leaves the resource untouched when a later operation fails', () => {
      const input = withPatient({ birthDate: '1920-01-01' });
      expectInvalidPatch(() => applyFhirPathPatch(input, patch(operation('delete', 'Patient.birthDate'), operation('replace', 'Patient.gender', value({ valueCode: 'male' })))));
      expect(input).toEqual(withPatient({ birthDate: '1920-01-01' }));
    });
  });

  describe('identity', () => {
    it.each([
      ['replacing the id', operation('replace', 'Patient.id', value({ valueId: 'other' }))],
      ['deleting the id', operation('delete', 'Patient.id')],
    ])('rejects %s', (_, parameter) => {
      expectInvalidPatch(() => applyFhirPathPatch(withPatient({}), patch(parameter)), /resourceType or id/);
    });

    it('rejects adding an id to a resource that had none', () => {
      const input = { resourceType: 'Patient' } as Resource;
      expectInvalidPatch(() => applyFhirPathPatch(input, patch(operation('add', 'Patient', name('id'), value({ valueId: 'new' })))), /resourceType or id/);
    });

    it.each([
      ['replacing the resource itself', operation('replace', 'Patient', value({ resource: { resourceType: 'Practitioner' } }))],
      ['deleting the resource itself', operation('delete', 'Patient')],
    ])('rejects %s', (_, parameter) => {
      expectInvalidPatch(() => applyFhirPathPatch(withPatient({}), patch(parameter)), /the resource itself/);
    });

    it('rejects adding a resourceType, which is no element', () => {
      expectInvalidPatch(
        () => applyFhirPathPatch(withPatient({}), patch(operation('add', 'Patient', name('resourceType'), value({ valueString: 'Practitioner' })))),
        /Patient has no element "resourceType"/,
      );
    });
  });

  describe('malformed patches', () => {
    const patient = withPatient({ birthDate: '1920-01-01', identifier: identifiers(1, 2), name: [{ given: ['a'] }, { given: ['b'] }] });

    it('rejects what is not a Parameters resource', () => {
      expectInvalidPatch(() => applyFhirPathPatch(patient, [] as unknown as Parameters), /must be a Parameters resource/);
      expectInvalidPatch(() => applyFhirPathPatch(patient, { resourceType: 'Patient' } as unknown as Parameters), /must be a Parameters resource/);
    });

    it('points at the faulty operation in the message and the OperationOutcome', () => {
      const error = expectInvalidPatch(() =>
        applyFhirPathPatch(patient, patch(operation('delete', 'Patient.birthDate'), operation('replace', 'Patient.gender', value({ valueCode: 'male' })))),
      );
      expect(error.message).toBe('Invalid patch: operation 2: path "Patient.gender" matches nothing');
      expect(error.toOperationOutcome().issue[0].expression).toEqual(['Parameters.parameter[1]']);
    });

    it.each([
      ['a parameter not named operation', { name: 'op', part: [] }, /named "operation"/],
      ['an unknown operation type', operation('upsert', 'Patient'), /unknown type "upsert"/],
      ['a missing type', { name: 'operation', part: [{ name: 'path', valueString: 'Patient' }] }, /exactly one "type" part, found 0/],
      ['a missing path', { name: 'operation', part: [{ name: 'type', valueCode: 'delete' }] }, /exactly one "path" part, found 0/],
      ['two paths', operation('delete', 'Patient.birthDate', { name: 'path', valueString: 'Patient.gender' }), /exactly one "path" part, found 2/],
      ['a path that is not a string', { name: 'operation', part: [{ name: 'type', valueCode: 'delete' }, { name: 'path', valueInteger: 1 }] }, /"path" must be a non-empty string/],
      ['an add without a name', operation('add', 'Patient', value({ valueCode: 'male' })), /exactly one "name" part/],
      ['an add without a value', operation('add', 'Patient', name('gender')), /exactly one "value" part/],
      ['a value part without a value', operation('replace', 'Patient.birthDate', { name: 'value' }), /part "value" has no value/],
      ['a value part with two values', operation('replace', 'Patient.birthDate', value({ valueDate: '2000-01-01', valueString: 'x' })), /more than one value\[x\]/],
      ['an insert without an index', operation('insert', 'Patient.identifier', value({ valueIdentifier: {} })), /exactly one "index" part/],
      ['a negative index', operation('insert', 'Patient.identifier', index(-1), value({ valueIdentifier: {} })), /"index" must be a non-negative integer/],
      ['a fractional index', operation('insert', 'Patient.identifier', { name: 'index', valueDecimal: 1.5 }, value({ valueIdentifier: {} })), /"index" must be a non-negative integer/],
      ['a move without a destination', operation('move', 'Patient.identifier', source(0)), /exactly one "destination" part/],
      ['an unparsable path', operation('delete', 'Patient.name.where(use='), /cannot evaluate path "Patient\.name\.where\(use="/],
      ['a path using resolve()', operation('delete', 'Patient.generalPractitioner.resolve()'), /cannot evaluate path/],
      ['a path computing a value', operation('replace', "'a' + 'b'", value({ valueString: 'c' })), /must select elements of the resource/],
    ])('rejects %s', (_, parameter, message) => {
      expectInvalidPatch(() => applyFhirPathPatch(patient, patch(parameter as ParametersParameter)), message);
    });

    it.each([
      ['replace', operation('replace', 'Patient.gender', value({ valueCode: 'male' }))],
      ['add', operation('add', 'Patient.contact', name('gender'), value({ valueCode: 'male' }))],
      ['insert', operation('insert', 'Patient.telecom', index(0), value({ valueContactPoint: {} }))],
      ['move', operation('move', 'Patient.telecom', source(0), destination(0))],
    ])('rejects %s on a path that matches nothing', (_, parameter) => {
      expectInvalidPatch(() => applyFhirPathPatch(patient, patch(parameter)), /matches nothing/);
    });

    it.each([
      ['replace', operation('replace', 'Patient.identifier', value({ valueIdentifier: {} }))],
      ['delete', operation('delete', 'Patient.identifier.value')],
      ['add', operation('add', 'Patient.name', name('family'), value({ valueString: 'x' }))],
    ])('rejects %s on a path that matches more than one element', (_, parameter) => {
      expectInvalidPatch(() => applyFhirPathPatch(patient, patch(parameter)), /matches 2 elements; it must match one/);
    });

    it.each([
      ['an insert index past the end', operation('insert', 'Patient.identifier', index(3), value({ valueIdentifier: {} })), /index 3 is past the end/],
      ['a move source out of range', operation('move', 'Patient.identifier', source(2), destination(0)), /must be indexes of the list \(2 items\)/],
      ['a move destination out of range', operation('move', 'Patient.identifier', source(0), destination(2)), /must be indexes of the list/],
      ['an insert into part of a list', operation('insert', 'Patient.identifier[0]', index(0), value({ valueIdentifier: {} })), /all the items of one list/],
      ['an insert into items of two lists', operation('insert', 'Patient.name.given', index(0), value({ valueString: 'c' })), /all the items of one list/],
      ['an insert into a single element', operation('insert', 'Patient.birthDate', index(0), value({ valueDate: '2000-01-01' })), /all the items of one list/],
      ['an add to a primitive', operation('add', 'Patient.birthDate', name('id'), value({ valueString: 'x' })), /cannot add "id" to a primitive/],
      ['an add of an unknown element', operation('add', 'Patient', name('nickname'), value({ valueString: 'x' })), /Patient has no element "nickname"/],
      ['an add with a dotted name', operation('add', 'Patient', name('name.family'), value({ valueString: 'x' })), /Patient has no element "name\.family"/],
      ['an add of a single element that is already set', operation('add', 'Patient', name('birthDate'), value({ valueDate: '2000-01-01' })), /Patient\.birthDate already has a value \(use replace\)/],
      ['a part naming an unknown element', operation('add', 'Patient', name('contact'), value({ part: [{ name: 'nickname', valueString: 'x' }] })), /Patient\.contact has no element "nickname"/],
      ['a part repeating a single element', operation('add', 'Patient', name('contact'), value({ part: [{ name: 'gender', valueCode: 'male' }, { name: 'gender', valueCode: 'female' }] })), /Patient\.contact\.gender already has a value/],
    ])('rejects %s', (_, parameter, message) => {
      expectInvalidPatch(() => applyFhirPathPatch(patient, patch(parameter)), message);
    });
  });
});
