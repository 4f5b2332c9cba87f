import type { Observation, OperationOutcomeIssue, Patient } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { FhirError } from '../../../src/errors.js';
import { assertValidResource, validateResource } from '../../../src/fhir/validation/index.js';

const errorsOf = (input: unknown): OperationOutcomeIssue[] =>
  validateResource(input).filter((i) => i.severity === 'error' || i.severity === 'fatal');

/** [severity, code, expression] of every issue, for compact assertions. */
const summary = (input: unknown): [string, string, string | undefined][] =>
  validateResource(input).map((i) => [i.severity, i.code, i.expression?.[0]]);

const US_CORE_PATIENT: Patient = {
  resourceType: 'Patient',
  id: 'example-1',
  meta: { profile: ['http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient'] },
  extension: [
    {
      url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race',
      extension: [
        { url: 'ombCategory', valueCoding: { system: 'urn:oid:2.16.840.1.113883.6.238', code: '2106-3', display: 'White' } },
        { url: 'text', valueString: 'White' },
      ],
    },
    { url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex', valueCode: 'F' },
  ],
  identifier: [
    {
      use: 'usual',
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] },
      system: 'http://hospital.example.org',
      value: '1032702',
    },
  ],
  active: true,
  name: [{ use: 'official', family: 'Shaw', given: ['Amy', 'V.'] }],
  telecom: [
    { system: 'phone', value: '555-555-5555', use: 'home' },
    { system: 'email', value: 'amy.shaw@example.com' },
  ],
  gender: 'female',
  birthDate: '1987-02-20',
  address: [{ use: 'home', line: ['49 Meadow St'], city: 'Mounds', state: 'OK', postalCode: '74047', country: 'US' }],
  communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'en-US' }] }, preferred: true }],
  managingOrganization: { reference: 'Organization/org-1', display: 'Acme' },
};

const US_CORE_OBSERVATION: Observation = {
  resourceType: 'Observation',
  id: 'bp-1',
  status: 'final',
  category: [
    { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] },
  ],
  code: { coding: [{ system: 'http://loinc.org', code: '85354-9', display: 'Blood pressure panel' }] },
  subject: { reference: 'Patient/example-1' },
  encounter: { reference: 'urn:uuid:4f8c8f1c-3d55-4e8b-9a7a-0e6c8e0f2b11' },
  effectiveDateTime: '2024-03-01T10:30:00+01:00',
  issued: '2024-03-01T10:31:00.000Z',
  component: [
    {
      code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] },
      valueQuantity: { value: 120, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
    },
    {
      code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] },
      valueQuantity: { value: 80, comparator: '<', unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
    },
  ],
};

describe('valid resources', () => {
  it('accepts a US Core-like Patient and Observation without any issue', () => {
    expect(validateResource(US_CORE_PATIENT)).toEqual([]);
    expect(validateResource(US_CORE_OBSERVATION)).toEqual([]);
  });

  it('accepts nested codes of a code system (Observation.status "corrected" is under "amended")', () => {
    expect(errorsOf({ ...US_CORE_OBSERVATION, status: 'corrected' })).toEqual([]);
  });

  it('does not modify the input and works on frozen resources', () => {
    const frozen = structuredClone(US_CORE_PATIENT);
    const deepFreeze = (v: unknown): void => {
      if (v && typeof v === 'object') {
        Object.values(v).forEach(deepFreeze);
        Object.freeze(v);
      }
    };
    deepFreeze(frozen);
    expect(validateResource(frozen)).toEqual([]);
    expect(frozen).toEqual(US_CORE_PATIENT);
  });

  it('every issue has severity, code, details.text and one expression', () => {
    const issues = validateResource({
      resourceType: 'Patient',
      id: 'a b',
      gender: 'nope',
      birthDate: 'yesterday',
      foo: 1,
      managingOrganization: { reference: 'not a reference' },
    });
    expect(issues.length).toBeGreaterThanOrEqual(5);
    for (const issue of issues) {
      expect(issue.severity).toMatch(/^(error|fatal|warning|information)$/);
      expect(issue.code).toBeTruthy();
      expect(issue.details?.text).toBeTruthy();
      expect(issue.expression).toHaveLength(1);
    }
  });
});

describe('rule 1: a JSON object with a known resourceType', () => {
  it.each([
    ['a number', 42, 'structure'],
    ['null', null, 'structure'],
    ['an array', [{ resourceType: 'Patient' }], 'structure'],
    ['no resourceType', { id: 'x' }, 'required'],
    ['a non-string resourceType', { resourceType: ['Patient'] }, 'structure'],
    ['an unknown resourceType', { resourceType: 'Pateint' }, 'value'],
    ['an abstract type', { resourceType: 'DomainResource' }, 'value'],
  ])('rejects %s with one issue at resourceType', (_name, input, code) => {
    const issues = validateResource(input);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ severity: 'error', code, expression: ['resourceType'] });
    expect(issues[0]?.details?.text).toBeTruthy();
  });
});

describe('rule 2: id syntax', () => {
  it.each(['a b', 'x'.repeat(65), 'ü', '', 'a/b'])('rejects the id %j', (id) => {
    expect(summary({ resourceType: 'Patient', id })).toEqual([['error', 'value', 'Patient.id']]);
  });

  it('accepts 64 characters of [A-Za-z0-9-.]', () => {
    expect(validateResource({ resourceType: 'Patient', id: 'Ab-1.'.repeat(12) + 'abcd' })).toEqual([]);
  });

  it('checks the ids of contained resources too', () => {
    const issues = validateResource({
      resourceType: 'Patient',
      contained: [{ resourceType: 'Organization', id: 'org_1', name: 'X' }],
      managingOrganization: { reference: '#org_1' },
    });
    expect(issues).toContainEqual(
      expect.objectContaining({ severity: 'error', code: 'value', expression: ['Patient.contained[0].id'] }),
    );
  });

  it('checks the ids of resources inside a Bundle', () => {
    const issues = validateResource({
      resourceType: 'Bundle',
      type: 'collection',
      entry: [{ resource: { resourceType: 'Patient', id: 'bad id' } }],
    });
    expect(issues).toEqual([expect.objectContaining({ severity: 'error', code: 'value', expression: ['Bundle.entry[0].resource.id'] })]);
  });
});

describe('rule 3: structure (via @medplum/core)', () => {
  it('refuses an integer beyond 32 bits (datatypes.html#integer), and takes the largest and smallest', () => {
    const observation = (valueInteger: number) => ({ resourceType: 'Observation', status: 'final', code: { text: 'count' }, valueInteger });
    expect(summary(observation(2_147_483_648))).toEqual([['error', 'value', 'Observation.value.ofType(integer)']]);
    expect(summary(observation(-2_147_483_649))).toEqual([['error', 'value', 'Observation.value.ofType(integer)']]);
    expect(errorsOf(observation(2_147_483_647))).toEqual([]);
    expect(errorsOf(observation(-2_147_483_648))).toEqual([]);
    expect(summary({ resourceType: 'Patient', multipleBirthInteger: 1e20 })).toEqual([['error', 'value', 'Patient.multipleBirth.ofType(integer)']]);
  });

  it('reports a missing required element', () => {
    const { status: _status, ...observation } = US_CORE_OBSERVATION;
    expect(summary(observation)).toEqual([['error', 'required', 'Observation.status']]);
  });

  it('reports a wrong cardinality with the array index', () => {
    const patient = { resourceType: 'Patient', name: [{ given: ['A'] }, { family: ['Shaw'] }] };
    expect(summary(patient)).toEqual([['error', 'structure', 'Patient.name[1].family']]);
    expect(summary({ resourceType: 'Patient', name: [{ given: 'Amy' }] })).toEqual([['error', 'structure', 'Patient.name[0].given']]);
  });

  it('reports wrong JSON types', () => {
    expect(summary({ resourceType: 'Patient', active: 'yes' })).toEqual([['error', 'structure', 'Patient.active']]);
    expect(summary({ resourceType: 'Patient', name: [1] })).toEqual([['error', 'structure', 'Patient.name[0]']]);
  });

  it.each([
    ['birthDate', '1987-02-30T10:00', 'Patient.birthDate'],
    ['birthDate', '87-02-20', 'Patient.birthDate'],
    ['deceasedDateTime', '2020-01-01T10:00', 'Patient.deceased.ofType(dateTime)'],
    ['implicitRules', 'not a uri', 'Patient.implicitRules'],
    ['meta', { lastUpdated: '2020-01-01' }, 'Patient.meta.lastUpdated'],
  ])('reports the bad primitive format of %s', (key, value, expression) => {
    expect(summary({ resourceType: 'Patient', [key]: value })).toEqual([['error', 'value', expression]]);
  });

  it('reports unknown properties as warnings: the resource is stored as sent', () => {
    const issues = validateResource({ resourceType: 'Patient', nmae: [{ family: 'Shaw' }] });
    expect(issues).toEqual([expect.objectContaining({ severity: 'warning', code: 'structure', expression: ['Patient.nmae'] })]);
    expect(issues[0]?.details?.text).toContain('nmae');
  });

  it('names the concrete type of a choice element', () => {
    const observation = { ...US_CORE_OBSERVATION, component: undefined, valueQuantity: { value: '120' } };
    delete observation.component;
    expect(summary(observation)).toEqual([['error', 'structure', 'Observation.value.ofType(Quantity).value']]);
  });

  it('rejects two properties of one choice element', () => {
    const observation = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueString: 'a', valueBoolean: true };
    expect(summary(observation)).toEqual([['error', 'structure', 'Observation.value']]);
  });

  it('rejects empty arrays, empty strings and empty objects', () => {
    expect(summary({ resourceType: 'Patient', name: [] })).toEqual([['error', 'structure', 'Patient.name']]);
    expect(summary({ resourceType: 'Patient', birthDate: '' })).toEqual([['error', 'value', 'Patient.birthDate']]);
    expect(summary({ resourceType: 'Patient', maritalStatus: {} })).toEqual([['error', 'structure', 'Patient.maritalStatus']]);
    expect(summary({ resourceType: 'Patient', telecom: [{}] })).toEqual([['error', 'structure', 'Patient.telecom[0]']]);
    expect(summary({ resourceType: 'Patient', active: null })).toEqual([['error', 'structure', 'Patient.active']]);
  });

  it('validates primitive extensions (`_element`)', () => {
    const patient = { resourceType: 'Patient', _birthDate: { extension: [{ url: 'http://x', valueDateTime: 'soon' }] } };
    expect(summary(patient)).toEqual([['error', 'value', 'Patient.birthDate.extension[0].value.ofType(dateTime)']]);
    expect(summary({ resourceType: 'Patient', _gender: 'x' })).toEqual([['error', 'structure', 'Patient._gender']]);
  });

  it('reports problems inside contained resources at their path', () => {
    const patient = {
      resourceType: 'Patient',
      contained: [{ resourceType: 'Observation', id: 'o1', code: { text: 'x' }, valueBoolean: 'yes', foo: 1 }],
    };
    expect(summary(patient)).toEqual([
      ['error', 'required', 'Patient.contained[0].status'],
      ['error', 'structure', 'Patient.contained[0].value.ofType(boolean)'],
      ['warning', 'structure', 'Patient.contained[0].foo'],
    ]);
  });

  it('reports contained resources without a known resourceType at their path', () => {
    const patient = { resourceType: 'Patient', contained: [{ resourceType: 'Nope', id: 'a' }, { id: 'b' }, 'c'] };
    expect(summary(patient)).toEqual([
      ['error', 'value', 'Patient.contained[0].resourceType'],
      ['error', 'required', 'Patient.contained[1].resourceType'],
      ['error', 'structure', 'Patient.contained[2]'],
    ]);
  });

  it('still validates the rest of the resource next to a contained resource without resourceType', () => {
    const patient = { resourceType: 'Patient', contained: [{ id: 'b' }], active: 'yes' };
    expect(summary(patient)).toEqual([
      ['error', 'structure', 'Patient.active'],
      ['error', 'required', 'Patient.contained[0].resourceType'],
    ]);
  });

  it('reports problems inside Bundle entries', () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: { resourceType: 'Patient', active: 1 }, request: { method: 'POST', url: 'Patient' } }],
    };
    expect(summary(bundle)).toEqual([['error', 'structure', 'Bundle.entry[0].resource.active']]);
  });
});

describe('rule 4: reference syntax', () => {
  const withRef = (reference: string): Patient => ({ resourceType: 'Patient', managingOrganization: { reference } });

  it.each([
    'Organization/org-1',
    'Organization/org-1/_history/2',
    'http://example.org/fhir/Organization/1',
    'https://example.org/fhir/Organization/1/_history/3',
    'urn:uuid:4f8c8f1c-3d55-4e8b-9a7a-0e6c8e0f2b11',
    'urn:oid:1.2.840.113619.6.197',
    'Organization?identifier=http://example.org|123',
  ])('accepts %s', (reference) => {
    expect(validateResource(withRef(reference))).toEqual([]);
  });

  it.each([
    'org-1',
    'Organisation/1',
    'Organization/bad id',
    'Organization/1/_history/',
    'Organization/1/extra',
    'urn:uuid:not-a-uuid',
    'urn:oid:1.02.3',
    'Organization?',
    'Nope?name=x',
    '/Organization/1',
    'http:/example.org',
    '#bad id',
  ])('rejects %j at the reference element', (reference) => {
    expect(summary(withRef(reference))).toEqual([['error', 'value', 'Patient.managingOrganization.reference']]);
  });

  it('finds references anywhere: arrays, backbone elements, extensions, contained and nested resources', () => {
    const patient = {
      resourceType: 'Patient',
      generalPractitioner: [{ reference: 'Practitioner/1' }, { reference: 'dr-who' }],
      contact: [{ organization: { reference: 'bad' } }],
      extension: [{ url: 'http://example.org/ext', valueReference: { reference: 'also bad' } }],
      link: [{ other: { reference: 'Patient/ok' }, type: 'seealso' }],
      contained: [{ resourceType: 'Organization', id: 'o', partOf: { reference: 'x' } }],
    };
    const refs = validateResource(patient).filter((i) => i.expression?.[0]?.endsWith('.reference'));
    expect(refs.map((i) => [i.severity, i.code, i.expression?.[0]])).toEqual([
      ['error', 'value', 'Patient.generalPractitioner[1].reference'],
      ['error', 'value', 'Patient.contact[0].organization.reference'],
      ['error', 'value', 'Patient.extension[0].value.ofType(Reference).reference'],
      ['error', 'value', 'Patient.contained[0].partOf.reference'],
    ]);
  });

  it('requires #id to match a contained resource, and allows # for the container', () => {
    const patient = {
      resourceType: 'Patient',
      id: 'p',
      contained: [{ resourceType: 'Organization', id: 'org', name: 'Acme', partOf: { reference: '#' } }],
      managingOrganization: { reference: '#org' },
      generalPractitioner: [{ reference: '#nobody' }],
    };
    expect(summary(patient)).toEqual([['error', 'value', 'Patient.generalPractitioner[0].reference']]);
  });

  it('keeps Medplum\'s target-type warning for a relative reference, but not for URNs or absolute URLs', () => {
    expect(summary(withRef('Patient/1'))).toEqual([['warning', 'structure', 'Patient.managingOrganization']]);
    expect(validateResource(withRef('urn:uuid:4f8c8f1c-3d55-4e8b-9a7a-0e6c8e0f2b11'))).toEqual([]);
  });

  it('does not duplicate Medplum\'s warning for a reference it reports as invalid', () => {
    expect(summary(withRef('Foo/1'))).toEqual([['error', 'value', 'Patient.managingOrganization.reference']]);
  });
});

describe('rule 5: required bindings on code elements', () => {
  it('rejects a gender outside administrative-gender', () => {
    const issues = validateResource({ ...US_CORE_PATIENT, gender: 'F' });
    expect(issues).toEqual([expect.objectContaining({ severity: 'error', code: 'code-invalid', expression: ['Patient.gender'] })]);
    expect(issues[0]?.details?.text).toContain('administrative-gender');
  });

  it('rejects an Observation.status outside observation-status', () => {
    expect(summary({ ...US_CORE_OBSERVATION, status: 'done' })).toEqual([['error', 'code-invalid', 'Observation.status']]);
  });

  it('checks codes in data types, backbone elements and arrays', () => {
    const patient = {
      resourceType: 'Patient',
      name: [{ use: 'nickname' }, { use: 'formal', family: 'X' }],
      telecom: [{ system: 'pager', value: '1' }, { system: 'beeper', value: '2' }],
      contact: [{ name: { family: 'Y' }, gender: 'm' }],
    };
    expect(summary(patient)).toEqual([
      ['error', 'code-invalid', 'Patient.name[1].use'],
      ['error', 'code-invalid', 'Patient.telecom[1].system'],
      ['error', 'code-invalid', 'Patient.contact[0].gender'],
    ]);
    const timing = {
      resourceType: 'MedicationRequest',
      status: 'active',
      intent: 'order',
      medicationCodeableConcept: { text: 'x' },
      subject: { reference: 'Patient/1' },
      dosageInstruction: [{ timing: { repeat: { dayOfWeek: ['mon', 'xyz'] } } }],
    };
    expect(summary(timing)).toEqual([['error', 'code-invalid', 'MedicationRequest.dosageInstruction[0].timing.repeat.dayOfWeek[1]']]);
  });

  it('checks codes in recursive elements (Questionnaire.item.item)', () => {
    const questionnaire = {
      resourceType: 'Questionnaire',
      status: 'active',
      item: [{ linkId: '1', type: 'group', item: [{ linkId: '1.1', type: 'essay' }] }],
    };
    expect(summary(questionnaire)).toEqual([['error', 'code-invalid', 'Questionnaire.item[0].item[0].type']]);
  });

  it('checks codes of nested resources', () => {
    const bundle = { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'FETCH', url: 'Patient' } }] };
    expect(summary(bundle)).toEqual([['error', 'code-invalid', 'Bundle.entry[0].request.method']]);
    expect(summary({ resourceType: 'Bundle', type: 'pile' })).toEqual([['error', 'code-invalid', 'Bundle.type']]);
  });

  it('does not check Coding/CodeableConcept, or value sets it cannot expand simply', () => {
    const patient = { ...US_CORE_PATIENT, maritalStatus: { coding: [{ system: 'http://x', code: 'nope' }] } };
    expect(validateResource(patient)).toEqual([]);
    // Binary.contentType is bound (required) to mimetypes, a BCP 13 grammar: not enumerable.
    expect(validateResource({ resourceType: 'Binary', contentType: 'application/x-made-up' })).toEqual([]);
  });
});

describe('rule 6: the narrative (datatypes.html#xhtml, narrative.html txt-1 and txt-2)', () => {
  const XHTML = 'xmlns="http://www.w3.org/1999/xhtml"';
  const withDiv = (div: string) => ({ resourceType: 'Patient', text: { status: 'generated', div } });

  it.each([
    `<div ${XHTML}>Amy Shaw</div>`,
    `<div ${XHTML}><p>Amy <b>Shaw</b></p><table><tr><td style="color: red">1</td></tr></table><a href="http://example.org">x</a></div>`,
    `<div xmlns='http://www.w3.org/1999/xhtml' lang="en"><img src="#photo" alt=""/></div>`,
    `<div ${XHTML}><p title="on call = yes">onload: not an attribute</p></div>`,
    `<div ${XHTML}><p title="see x onclick=y">text</p></div>`,
    `<div ${XHTML}><!-- a <comment> -->5 &lt; 6</div>`,
  ])('accepts %s', (div) => {
    expect(errorsOf(withDiv(div))).toEqual([]);
  });

  it.each([
    ['<div>no namespace</div>', 'XHTML namespace'],
    ['<div xmlns="http://www.w3.org/2000/svg">other namespace</div>', 'XHTML namespace'],
    [`<p ${XHTML}>not a div</p>`, 'single <div>'],
    ['plain text', 'single <div>'],
    [`<div ${XHTML}><script>alert(1)</script></div>`, '<script>'],
    [`<div ${XHTML}><SCRIPT src="x.js"></SCRIPT>x</div>`, '<SCRIPT>'],
    [`<div ${XHTML}><iframe src="http://example.org"></iframe>x</div>`, '<iframe>'],
    [`<div ${XHTML}><form><input name="a"/></form></div>`, '<form>'],
    [`<div ${XHTML}><object data="x"></object>x</div>`, '<object>'],
    [`<div ${XHTML}><img src="x" onerror="alert(1)"/></div>`, 'onerror'],
    [`<div ${XHTML}><a href="javascript:alert(1)">x</a></div>`, 'script URL'],
    [`<div ${XHTML}>  <p> &nbsp; </p> </div>`, 'non-whitespace'],
    [`<div ${XHTML}>a < b</div>`, 'not well-formed'],
    [`<div ${XHTML}><img src="x" alt="<" onerror="alert(1)"/></div>`, 'onerror'],
    [`<div ${XHTML}><p title="x>y" onclick="alert(1)">x</p></div>`, 'onclick'],
    [`<div ${XHTML}><p title="open>x</p></div>`, 'not well-formed'],
  ])('refuses %s', (div, mention) => {
    const issues = errorsOf(withDiv(div));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ severity: 'error', code: 'invariant', expression: ['Patient.text.div'] });
    expect(issues[0].details?.text).toContain(mention);
  });

  it('checks the narratives of contained resources too', () => {
    const patient = { resourceType: 'Patient', contained: [{ resourceType: 'Organization', id: 'o', text: { status: 'generated', div: '<div>x</div>' } }] };
    expect(summary(patient)).toEqual([['error', 'invariant', 'Patient.contained[0].text.div']]);
  });
});

describe('assertValidResource', () => {
  it('returns the resource when it has no error (warnings allowed)', () => {
    expect(assertValidResource(US_CORE_PATIENT)).toBe(US_CORE_PATIENT);
    const warned = { resourceType: 'Patient', managingOrganization: { reference: 'Patient/1' } };
    expect(assertValidResource(warned)).toBe(warned);
  });

  it('throws a 400 invalid-resource FhirError carrying only the error issues', () => {
    let caught: unknown;
    try {
      assertValidResource({ resourceType: 'Patient', gender: 'x', managingOrganization: { reference: 'Patient/1' } });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FhirError);
    const error = caught as FhirError;
    expect(error.status).toBe(400);
    expect(error.code).toBe('invalid-resource');
    expect(error.issues).toEqual([expect.objectContaining({ severity: 'error', code: 'code-invalid', expression: ['Patient.gender'] })]);
    expect(error.toOperationOutcome().issue).toHaveLength(1);
  });

  it('throws for input that is not a resource', () => {
    expect(() => assertValidResource('Patient')).toThrow(FhirError);
  });
});
