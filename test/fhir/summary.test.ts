import type { Observation, Patient, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { structureDefinition } from '../../src/definitions/index.js';
import { FhirError } from '../../src/errors.js';
import { parseElements, parseSummary, selectElements, summarize, type SummaryMode } from '../../src/fhir/summary.js';

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };
const META = { versionId: '3', lastUpdated: '2024-01-02T03:04:05.000Z' };
const TAGGED_META = { ...META, tag: [SUBSETTED] };

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function frozenObjects(value: unknown, path = '$'): string[] {
  if (value === null || typeof value !== 'object') return [];
  const own = Object.isFrozen(value) ? [path] : [];
  return [...own, ...Object.entries(value).flatMap(([k, v]) => frozenObjects(v, `${path}.${k}`))];
}

function fhirError(fn: () => unknown): FhirError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FhirError);
    return err as FhirError;
  }
  throw new Error('expected a FhirError');
}

const birthTime = {
  extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime', valueDateTime: '1974-12-25T14:35:45-05:00' }],
};

const patient = (): Patient =>
  ({
    resourceType: 'Patient',
    id: 'p1',
    meta: { ...META },
    language: 'en',
    text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Peter Chalmers</div>' },
    contained: [{ resourceType: 'Organization', id: 'org', name: 'Contained Org' }],
    extension: [{ url: 'http://example.org/ext', valueString: 'x' }],
    modifierExtension: [{ url: 'http://example.org/modifier', valueBoolean: true }],
    identifier: [{ system: 'urn:oid:1.2.36.146.595.217.0.1', value: '12345' }],
    active: true,
    name: [{ use: 'official', family: 'Chalmers', given: ['Peter', 'James'] }],
    telecom: [{ system: 'phone', value: '(03) 5555 6473', use: 'work' }],
    gender: 'male',
    birthDate: '1974-12-25',
    _birthDate: birthTime,
    deceasedBoolean: false,
    address: [{ use: 'home', city: 'PleasantVille', postalCode: '3999' }],
    maritalStatus: { text: 'married' },
    multipleBirthInteger: 2,
    photo: [{ contentType: 'image/png', data: 'iVBORw0KGgo=' }],
    contact: [{ relationship: [{ text: 'mother' }], name: { family: 'du Marché' } }],
    communication: [{ language: { text: 'English' }, preferred: true }],
    generalPractitioner: [{ reference: 'Practitioner/gp' }],
    managingOrganization: { reference: 'Organization/1' },
    link: [
      {
        id: 'link1',
        extension: [{ url: 'http://example.org/link-ext', valueString: 'y' }],
        other: { reference: 'Patient/p2' },
        type: 'seealso',
      },
    ],
  }) as Patient; // _birthDate (primitive extension) is not in the fhirtypes model

const observation = (): Observation => ({
  resourceType: 'Observation',
  id: 'o1',
  meta: { ...META },
  text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">BP</div>' },
  status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
  subject: { reference: 'Patient/p1' },
  effectiveDateTime: '2024-01-01T10:00:00Z',
  valueQuantity: { value: 120, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
  interpretation: [{ text: 'normal' }],
  note: [{ text: 'sitting' }],
  referenceRange: [{ low: { value: 90 }, high: { value: 140 } }],
  component: [
    {
      id: 'c1',
      code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] },
      valueQuantity: { value: 120, unit: 'mmHg' },
      interpretation: [{ text: 'normal' }],
      referenceRange: [{ text: '90-140' }],
    },
    {
      code: { text: 'comment' },
      valueString: 'ok',
      _valueString: { extension: [{ url: 'http://example.org/e', valueCode: 'z' }] },
    } as NonNullable<Observation['component']>[number],
  ],
});

describe('parseSummary', () => {
  it('accepts the five modes and passes absence through', () => {
    for (const mode of ['true', 'text', 'data', 'count', 'false']) expect(parseSummary(mode)).toBe(mode);
    expect(parseSummary(undefined)).toBeUndefined();
  });

  it.each(['', 'TRUE', 'True', 'yes', '1', ' true', 'summary'])('rejects %j with 400 naming _summary', (value) => {
    const err = fhirError(() => parseSummary(value));
    expect(err.status).toBe(400);
    expect(err.code).toBe('bad-request');
    expect(err.message).toContain('_summary');
    expect(err.message).toContain(`"${value}"`);
  });
});

describe('parseElements', () => {
  it('splits, trims, skips empty items and de-duplicates', () => {
    expect(parseElements(undefined)).toBeUndefined();
    expect(parseElements('name,birthDate')).toEqual(['name', 'birthDate']);
    expect(parseElements(' name , birthDate ,')).toEqual(['name', 'birthDate']);
    expect(parseElements('name,name')).toEqual(['name']);
  });

  it('accepts Type.element, choice bases, value[x] and choice keys', () => {
    expect(parseElements('Patient.name,Observation.code')).toEqual(['Patient.name', 'Observation.code']);
    expect(parseElements('value,value[x],valueQuantity')).toEqual(['value', 'value[x]', 'valueQuantity']);
  });

  it.each(['', ' , ', 'name.family', 'Patient.name.family', 'Name', 'na-me', '1name', 'Foo.name', 'patient.name', 'name;birthDate', '*'])(
    'rejects %j with 400 naming _elements',
    (value) => {
      const err = fhirError(() => parseElements(value));
      expect(err.status).toBe(400);
      expect(err.code).toBe('bad-request');
      expect(err.message).toContain('_elements');
    },
  );
});

describe('the R4 flags the tests rely on', () => {
  it('Patient: these and only these top-level elements are isSummary', () => {
    const summary = structureDefinition('Patient')!
      .snapshot!.element!.filter((e) => e.path!.split('.').length === 2 && e.isSummary)
      .map((e) => e.path!.slice('Patient.'.length));
    expect(summary).toEqual([
      'id',
      'meta',
      'implicitRules',
      'identifier',
      'active',
      'name',
      'telecom',
      'gender',
      'birthDate',
      'deceased[x]',
      'address',
      'managingOrganization',
      'link',
    ]);
  });
});

describe('summarize: _summary=true', () => {
  it('keeps the Patient summary elements and drops the rest', () => {
    expect(summarize(patient(), 'true')).toEqual({
      resourceType: 'Patient',
      id: 'p1',
      meta: TAGGED_META,
      // a modifier: ElementDefinition.isSummary requires root modifiers in the summary (R4 leaves it unflagged)
      modifierExtension: [{ url: 'http://example.org/modifier', valueBoolean: true }],
      identifier: [{ system: 'urn:oid:1.2.36.146.595.217.0.1', value: '12345' }],
      active: true,
      name: [{ use: 'official', family: 'Chalmers', given: ['Peter', 'James'] }],
      telecom: [{ system: 'phone', value: '(03) 5555 6473', use: 'work' }],
      gender: 'male',
      birthDate: '1974-12-25',
      _birthDate: birthTime,
      deceasedBoolean: false,
      address: [{ use: 'home', city: 'PleasantVille', postalCode: '3999' }],
      managingOrganization: { reference: 'Organization/1' },
      // backbone element: only its summary children (other, type; not id, extension)
      link: [{ other: { reference: 'Patient/p2' }, type: 'seealso' }],
    });
  });

  it('keeps the chosen value[x] of an Observation and summary children of components', () => {
    expect(summarize(observation(), 'true')).toEqual({
      resourceType: 'Observation',
      id: 'o1',
      meta: TAGGED_META,
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
      subject: { reference: 'Patient/p1' },
      effectiveDateTime: '2024-01-01T10:00:00Z',
      valueQuantity: { value: 120, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
      component: [
        { code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 120, unit: 'mmHg' } },
        { code: { text: 'comment' }, valueString: 'ok', _valueString: { extension: [{ url: 'http://example.org/e', valueCode: 'z' }] } },
      ],
    });
  });

  it.each([
    ['valueString', 'high'],
    ['valueCodeableConcept', { text: 'positive' }],
    ['valueBoolean', true],
    ['valuePeriod', { start: '2024-01-01' }],
  ])('keeps %s', (key, value) => {
    const obs = { resourceType: 'Observation', id: 'o2', status: 'final', code: { text: 'x' }, [key]: value } as Observation;
    expect(summarize(obs, 'true')).toEqual({ ...obs, meta: { tag: [SUBSETTED] } });
  });

  it('drops Attachment.data inside kept elements ("other than Attachment.data, all data type properties")', () => {
    const doc = {
      resourceType: 'DocumentReference',
      id: 'd1',
      status: 'current',
      custodian: { reference: 'Organization/1' },
      content: [{ attachment: { contentType: 'text/plain', data: 'aGVsbG8=', title: 'hello', size: 5 }, format: { code: 'urn:x' } }],
    } as Resource;
    expect(summarize(doc, 'true')).toEqual({
      resourceType: 'DocumentReference',
      id: 'd1',
      status: 'current',
      content: [{ attachment: { contentType: 'text/plain', title: 'hello', size: 5 }, format: { code: 'urn:x' } }],
      meta: { tag: [SUBSETTED] },
    });
  });

  it('follows contentReference (Bundle.entry.link is #Bundle.link) and keeps contained resources whole', () => {
    const link = { id: 'l', extension: [{ url: 'http://example.org/e', valueString: 'v' }], relation: 'self', url: 'http://x/1' };
    const bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      link: [link],
      entry: [{ id: 'e1', link: [link], fullUrl: 'http://x/Patient/p1', resource: patient(), search: { id: 's', mode: 'match' } }],
    } as Resource;
    expect(summarize(bundle, 'true')).toEqual({
      resourceType: 'Bundle',
      type: 'searchset',
      link: [{ relation: 'self', url: 'http://x/1' }],
      entry: [{ link: [{ relation: 'self', url: 'http://x/1' }], fullUrl: 'http://x/Patient/p1', resource: patient(), search: { mode: 'match' } }],
      meta: { tag: [SUBSETTED] },
    });
  });

  it('throws unknown-type for a resource type R4 does not define', () => {
    const err = fhirError(() => summarize({ resourceType: 'Foo', id: 'x' } as unknown as Resource, 'true'));
    expect(err.status).toBe(404);
    expect(err.code).toBe('unknown-type');
  });
});

describe('summarize: _summary=text', () => {
  it('keeps text, id, meta (and no optional elements) for Patient', () => {
    expect(summarize(patient(), 'text')).toEqual({
      resourceType: 'Patient',
      id: 'p1',
      meta: TAGGED_META,
      text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Peter Chalmers</div>' },
    });
  });

  it('keeps the mandatory top-level elements (Observation.status, Observation.code), whole', () => {
    expect(summarize(observation(), 'text')).toEqual({
      resourceType: 'Observation',
      id: 'o1',
      meta: TAGGED_META,
      text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">BP</div>' },
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
    });
  });

  it('keeps mandatory elements even when they are not summary elements (AuditEvent.agent, .source)', () => {
    const audit = {
      resourceType: 'AuditEvent',
      type: { code: 'rest' },
      action: 'R',
      recorded: '2024-01-01T00:00:00Z',
      agent: [{ requestor: true, name: 'me', who: { reference: 'Practitioner/1' } }],
      source: { observer: { display: 'server' }, site: 'here' },
      entity: [{ what: { reference: 'Patient/1' } }],
    } as Resource;
    expect(summarize(audit, 'text')).toEqual({
      resourceType: 'AuditEvent',
      type: { code: 'rest' },
      recorded: '2024-01-01T00:00:00Z',
      agent: [{ requestor: true, name: 'me', who: { reference: 'Practitioner/1' } }],
      source: { observer: { display: 'server' }, site: 'here' },
      meta: { tag: [SUBSETTED] },
    });
  });
});

describe('summarize: _summary=data and false', () => {
  it('data removes only text', () => {
    const { text: _text, ...rest } = patient();
    expect(summarize(patient(), 'data')).toEqual({ ...rest, meta: TAGGED_META });
  });

  it('data on a resource without text still tags it', () => {
    const { text: _text, ...rest } = observation();
    expect(summarize(rest as Observation, 'data')).toEqual({ ...rest, meta: TAGGED_META });
  });

  it.each(['false', 'count'] as SummaryMode[])('%s returns an untagged, equal copy', (mode) => {
    const input = patient();
    const out = summarize(input, mode);
    expect(out).toEqual(patient());
    expect(out).not.toBe(input);
    expect(out.meta).not.toBe(input.meta);
    expect(out.meta?.tag).toBeUndefined();
  });
});

describe('selectElements (_elements)', () => {
  it('name,birthDate keeps those (with _birthDate) plus resourceType, id, meta', () => {
    expect(selectElements(patient(), ['name', 'birthDate'])).toEqual({
      resourceType: 'Patient',
      id: 'p1',
      meta: TAGGED_META,
      name: [{ use: 'official', family: 'Chalmers', given: ['Peter', 'James'] }],
      birthDate: '1974-12-25',
      _birthDate: birthTime,
    });
  });

  it('Patient.name is the same as name; other types\' prefixes are ignored', () => {
    const expected = {
      resourceType: 'Patient',
      id: 'p1',
      meta: TAGGED_META,
      name: [{ use: 'official', family: 'Chalmers', given: ['Peter', 'James'] }],
    };
    expect(selectElements(patient(), ['Patient.name'])).toEqual(expected);
    expect(selectElements(patient(), ['Patient.name', 'Observation.code', 'Observation.status'])).toEqual(expected);
    expect(selectElements(patient(), parseElements('Patient.name')!)).toEqual(expected);
  });

  it('keeps backbone elements whole (link with id and extension)', () => {
    expect(selectElements(patient(), ['link'])).toEqual({
      resourceType: 'Patient',
      id: 'p1',
      meta: TAGGED_META,
      link: patient().link,
    });
  });

  it('value, value[x] and valueQuantity select the chosen value; mandatory status and code always come along', () => {
    const expected = {
      resourceType: 'Observation',
      id: 'o1',
      meta: TAGGED_META,
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
      valueQuantity: { value: 120, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
    };
    expect(selectElements(observation(), ['value'])).toEqual(expected);
    expect(selectElements(observation(), ['value[x]'])).toEqual(expected);
    expect(selectElements(observation(), ['valueQuantity'])).toEqual(expected);
    expect(selectElements(observation(), ['Observation.value'])).toEqual(expected);
    const { valueQuantity: _q, ...withoutValue } = expected;
    expect(selectElements(observation(), ['valueString'])).toEqual(withoutValue);
  });

  it('effective selects effectiveDateTime; unknown names are ignored', () => {
    expect(selectElements(observation(), ['effective', 'nonsense'])).toEqual({
      resourceType: 'Observation',
      id: 'o1',
      meta: TAGGED_META,
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
      effectiveDateTime: '2024-01-01T10:00:00Z',
    });
  });

  it('can select text and non-summary elements', () => {
    expect(selectElements(patient(), ['text', 'photo'])).toEqual({
      resourceType: 'Patient',
      id: 'p1',
      meta: TAGGED_META,
      text: patient().text,
      photo: patient().photo,
    });
  });
});

describe('the SUBSETTED tag', () => {
  it('is added to existing tags once, keeping the other meta fields', () => {
    const input = patient();
    input.meta = { ...META, tag: [{ system: 'http://example.org/tags', code: 'a' }], security: [{ code: 'N' }] };
    const once = summarize(input, 'true');
    expect(once.meta).toEqual({ ...META, tag: [{ system: 'http://example.org/tags', code: 'a' }, SUBSETTED], security: [{ code: 'N' }] });
    expect(summarize(once, 'true').meta).toEqual(once.meta);
    expect(selectElements(once, ['name']).meta).toEqual(once.meta);
  });

  it('creates meta when the resource has none', () => {
    expect(selectElements({ resourceType: 'Patient', id: 'x', gender: 'other' }, ['gender'])).toEqual({
      resourceType: 'Patient',
      id: 'x',
      gender: 'other',
      meta: { tag: [SUBSETTED] },
    });
  });

  it('is added by every subsetting mode and by _elements, never by false', () => {
    const has = (r: Resource) => (r.meta?.tag ?? []).some((t) => t.system === SUBSETTED.system && t.code === SUBSETTED.code);
    for (const mode of ['true', 'text', 'data'] as SummaryMode[]) expect(has(summarize(patient(), mode))).toBe(true);
    expect(has(selectElements(patient(), ['name']))).toBe(true);
    expect(has(summarize(patient(), 'false'))).toBe(false);
  });
});

describe('immutability', () => {
  it('never mutates the input, and results share no objects with it', () => {
    const inputs: Resource[] = [deepFreeze(patient()), deepFreeze(observation())];
    for (const input of inputs) {
      const before = structuredClone(input);
      const results = [
        ...(['true', 'text', 'data', 'count', 'false'] as SummaryMode[]).map((mode) => summarize(input, mode)),
        selectElements(input, ['name', 'value', 'link', 'component', 'text']),
      ];
      expect(input).toEqual(before);
      for (const result of results) {
        expect(result).not.toBe(input);
        // the input is deep-frozen: any object shared with it would be frozen
        expect(frozenObjects(result)).toEqual([]);
      }
    }
  });
});
