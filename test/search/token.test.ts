import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, startTestServer, type TestServer } from '../support/test-server.js';
import { allBut, createAll, expectSearchError, q, searchLabels, sorted, type Ids, type Json } from './support.js';

/**
 * token parameters (search.html#token): `code` (any system), `system|code`, `|code` (no system),
 * `system|` (any code of the system), on Coding, CodeableConcept (any of its codings), Identifier
 * (system|value), ContactPoint (the value), code and boolean (no system of their own) and id; and the
 * modifiers :not, :text, :of-type, :in, :not-in, :above, :below, :missing.
 */

const LOINC = 'http://loinc.org';
const SNOMED = 'http://snomed.info/sct';
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
const MRN = 'http://hospital.example/mrn';
const NATIONAL = 'http://national.example/id';
const TAGS = 'http://example.org/tags';
const CONFIDENTIALITY = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
const FINDINGS = 'http://example.org/fhir/CodeSystem/findings';
const FLAT = 'http://example.org/fhir/CodeSystem/flat';

let server: TestServer;
let patients: Ids;
let observations: Ids;
let conditions: Ids;

const patientFixtures: Record<string, Json> = {
  male: {
    resourceType: 'Patient',
    meta: { tag: [{ system: TAGS, code: 'vip' }], security: [{ system: CONFIDENTIALITY, code: 'R' }] },
    gender: 'male',
    active: true,
    identifier: [
      {
        system: MRN,
        value: 'MRN-1',
        type: { coding: [{ system: V2_0203, code: 'MR' }], text: 'Medical record number' },
      },
    ],
    telecom: [
      { system: 'phone', value: '555-0100' },
      { system: 'email', value: 'pat@example.org' },
    ],
  },
  female: {
    resourceType: 'Patient',
    gender: 'female',
    active: false,
    deceasedBoolean: true,
    identifier: [
      { system: MRN, value: 'MRN-2' },
      { system: NATIONAL, value: 'MRN-1', type: { coding: [{ system: V2_0203, code: 'NI' }] } },
    ],
    telecom: [{ system: 'phone', value: '555-0199' }],
  },
  other: {
    resourceType: 'Patient',
    meta: { tag: [{ system: TAGS, code: 'test' }], security: [{ system: CONFIDENTIALITY, code: 'N' }] },
    gender: 'other',
    deceasedDateTime: '2020-01-01',
    identifier: [{ value: 'MRN-1' }],
    telecom: [{ system: 'email', value: 'other@example.org' }],
  },
  unknown: { resourceType: 'Patient', gender: 'unknown', active: true, deceasedBoolean: false },
  bare: { resourceType: 'Patient' },
};

const observation = (status: string, code: Json): Json => ({ resourceType: 'Observation', status, code });

const observationFixtures: Record<string, Json> = {
  heartRate: observation('final', {
    coding: [{ system: LOINC, code: '8867-4', display: 'Heart rate' }],
    text: 'Pulse',
  }),
  bloodPressure: observation('amended', {
    coding: [
      { system: LOINC, code: '85354-9', display: 'Blood pressure panel' },
      { system: SNOMED, code: '75367002', display: 'Blood pressure' },
    ],
  }),
  /** The same code without a system. */
  noSystem: observation('preliminary', { coding: [{ code: '8867-4' }] }),
  /** The same code in another system. */
  otherSystem: observation('cancelled', { coding: [{ system: 'http://example.org/other', code: '8867-4' }] }),
  /** Only text. */
  textOnly: observation('final', { text: 'Heart murmur' }),
};

/** A hierarchical code system: cardio > (arrhythmia > (tachy, brady), murmur); resp > wheeze. */
const findings = {
  resourceType: 'CodeSystem',
  url: FINDINGS,
  status: 'active',
  content: 'complete',
  hierarchyMeaning: 'is-a',
  concept: [
    {
      code: 'cardio',
      display: 'Cardiovascular finding',
      concept: [
        { code: 'arrhythmia', display: 'Arrhythmia', concept: [{ code: 'tachy', display: 'Tachycardia' }, { code: 'brady', display: 'Bradycardia' }] },
        { code: 'murmur', display: 'Murmur' },
      ],
    },
    { code: 'resp', display: 'Respiratory finding', concept: [{ code: 'wheeze', display: 'Wheeze' }] },
  ],
};

const flat = {
  resourceType: 'CodeSystem',
  url: FLAT,
  status: 'active',
  content: 'complete',
  concept: [{ code: 'a' }, { code: 'b' }],
};

/** Statuses of a finished observation, by a concept list over the R4 observation-status system. */
const doneStatuses = {
  resourceType: 'ValueSet',
  url: 'http://example.org/fhir/ValueSet/done-statuses',
  status: 'active',
  compose: { include: [{ system: 'http://hl7.org/fhir/observation-status', concept: [{ code: 'final' }, { code: 'amended' }] }] },
};

/** Two of the findings, by concept list; and the whole of another code system. */
const rhythm = {
  resourceType: 'ValueSet',
  url: 'http://example.org/fhir/ValueSet/rhythm',
  status: 'active',
  compose: {
    include: [
      { system: FINDINGS, concept: [{ code: 'tachy' }, { code: 'brady' }] },
      { system: FLAT },
    ],
  },
};

const binaryGender = {
  resourceType: 'ValueSet',
  url: 'http://example.org/fhir/ValueSet/binary-gender',
  status: 'active',
  compose: { include: [{ system: 'http://hl7.org/fhir/administrative-gender', concept: [{ code: 'male' }, { code: 'female' }] }] },
};

beforeAll(async () => {
  server = await startTestServer();
  patients = await createAll(server, patientFixtures);
  observations = await createAll(server, observationFixtures);
  await createAll(server, { findings, flat, doneStatuses, rhythm, binaryGender });
  const subject = { reference: `Patient/${patients.male}` };
  const condition = (code?: Json): Json => ({ resourceType: 'Condition', subject, ...(code ? { code } : {}) });
  conditions = await createAll(server, {
    cardio: condition({ coding: [{ system: FINDINGS, code: 'cardio' }] }),
    arrhythmia: condition({ coding: [{ system: FINDINGS, code: 'arrhythmia' }] }),
    tachy: condition({ coding: [{ system: FINDINGS, code: 'tachy' }] }),
    brady: condition({ coding: [{ system: FINDINGS, code: 'brady' }] }),
    murmur: condition({ coding: [{ system: FINDINGS, code: 'murmur' }] }),
    wheeze: condition({ coding: [{ system: FINDINGS, code: 'wheeze' }] }),
    /** The code "tachy" of another system: never related to the findings. */
    tachyElsewhere: condition({ coding: [{ system: 'http://example.org/elsewhere', code: 'tachy' }] }),
    flatA: condition({ coding: [{ system: FLAT, code: 'a' }] }),
    noCode: condition(),
  });
});

afterAll(async () => {
  await server?.close();
});

const patient = (query: string) => searchLabels(server, patients, `/fhir/Patient?${query}`);
const obs = (query: string) => searchLabels(server, observations, `/fhir/Observation?${query}`);
const cond = (query: string) => searchLabels(server, conditions, `/fhir/Condition?${query}`);

describe('token on Coding / CodeableConcept (Observation.code)', () => {
  it('code alone matches any system, or none', async () => {
    expect(await obs('code=8867-4')).toEqual(sorted(['heartRate', 'noSystem', 'otherSystem']));
    expect(await obs('code=75367002')).toEqual(['bloodPressure']);
    expect(await obs('code=8867')).toEqual([]); // a token is not a prefix
  });

  it('system|code matches that system only; |code only a coding without system', async () => {
    expect(await obs(`code=${q(`${LOINC}|8867-4`)}`)).toEqual(['heartRate']);
    expect(await obs(`code=${q('|8867-4')}`)).toEqual(['noSystem']);
    expect(await obs(`code=${q(`${SNOMED}|75367002`)}`)).toEqual(['bloodPressure']);
  });

  it('system| matches any code of the system', async () => {
    expect(await obs(`code=${q(`${LOINC}|`)}`)).toEqual(sorted(['heartRate', 'bloodPressure']));
    expect(await obs(`code=${q(`${SNOMED}|`)}`)).toEqual(['bloodPressure']);
    expect(await obs(`code=${q('http://unknown.example|')}`)).toEqual([]);
  });

  it('system and code must belong to the same coding', async () => {
    // Blood pressure has a LOINC coding and a SNOMED coding with this code, but no LOINC 75367002.
    expect(await obs(`code=${q(`${LOINC}|75367002`)}`)).toEqual([]);
  });

  it('values are ORed, repeated parameters ANDed', async () => {
    expect(await obs(`code=${q(`${LOINC}|8867-4,${SNOMED}|75367002`)}`)).toEqual(sorted(['heartRate', 'bloodPressure']));
    expect(await obs(`code=${q(`${LOINC}|85354-9`)}&code=${q(`${SNOMED}|75367002`)}`)).toEqual(['bloodPressure']);
    expect(await obs(`code=${q(`${LOINC}|8867-4`)}&code=${q(`${SNOMED}|75367002`)}`)).toEqual([]);
  });

  it(':not matches every resource that has no matching coding, including those without codings', async () => {
    expect(await obs(`code:not=${q(`${LOINC}|8867-4`)}`)).toEqual(allBut(observations, 'heartRate'));
    expect(await obs('code:not=8867-4')).toEqual(sorted(['bloodPressure', 'textOnly']));
    // One of its codings matches, so blood pressure is excluded.
    expect(await obs(`code:not=${q(`${SNOMED}|75367002`)}`)).toEqual(allBut(observations, 'bloodPressure'));
    // Several values: no coding matches any of them.
    expect(await obs(`code:not=${q(`${LOINC}|8867-4,${LOINC}|85354-9`)}`)).toEqual(sorted(['noSystem', 'otherSystem', 'textOnly']));
  });

  it(':text searches CodeableConcept.text and Coding.display, case-insensitively, from the start of a word', async () => {
    expect(await obs('code:text=heart')).toEqual(sorted(['heartRate', 'textOnly'])); // display; text
    expect(await obs('code:text=HEART%20R')).toEqual(['heartRate']);
    expect(await obs('code:text=rate')).toEqual(['heartRate']); // second word of the display
    expect(await obs('code:text=pulse')).toEqual(['heartRate']); // CodeableConcept.text
    expect(await obs('code:text=pressure')).toEqual(['bloodPressure']); // either coding's display
    expect(await obs(`code:text=${q('blood pressure panel')}`)).toEqual(['bloodPressure']);
    expect(await obs('code:text=murmur')).toEqual(['textOnly']);
    expect(await obs('code:text=eart')).toEqual([]); // inside a word
    expect(await obs('code:text=8867-4')).toEqual([]); // codes are not text
  });
});

describe('token on CodeableConcept: :missing and :not (Condition.code, which is optional)', () => {
  it(':missing is true only for the condition without a code', async () => {
    expect(await cond('code:missing=true')).toEqual(['noCode']);
    expect(await cond('code:missing=false')).toEqual(allBut(conditions, 'noCode'));
  });

  it(':not keeps the condition without a code and the same code of another system', async () => {
    expect(await cond(`code:not=${q(`${FINDINGS}|tachy`)}`)).toEqual(allBut(conditions, 'tachy'));
    expect(await cond('code:not=tachy')).toEqual(allBut(conditions, 'tachy', 'tachyElsewhere'));
  });
});

describe('token on code (Observation.status, Patient.gender)', () => {
  it('matches the code', async () => {
    expect(await obs('status=final')).toEqual(sorted(['heartRate', 'textOnly']));
    expect(await obs('status=final,amended')).toEqual(sorted(['heartRate', 'textOnly', 'bloodPressure']));
    expect(await obs('status=FINAL')).toEqual([]); // codes are case-sensitive
    expect(await patient('gender=male')).toEqual(['male']);
    expect(await patient('gender=male,female')).toEqual(['female', 'male']);
  });

  it(':not includes the resources without the element', async () => {
    expect(await obs('status:not=final')).toEqual(sorted(['bloodPressure', 'noSystem', 'otherSystem']));
    // "gender:not=male" is every patient that is not known to be male, the one without gender too.
    expect(await patient('gender:not=male')).toEqual(allBut(patients, 'male'));
    expect(await patient('gender:not=male,female')).toEqual(sorted(['other', 'unknown', 'bare']));
  });

  it('gives a plain code the system its required binding draws from (search.html#token: system|code)', async () => {
    expect(await patient('gender=http://hl7.org/fhir/administrative-gender|male')).toEqual(['male']);
    expect(await patient('gender=http://hl7.org/fhir/administrative-gender|')).toEqual(allBut(patients, 'bare'));
    expect(await patient('gender=http://example.org/other|male')).toEqual([]);
    expect(await obs('status=http://hl7.org/fhir/observation-status|final')).toEqual(sorted(['heartRate', 'textOnly']));
  });

  it(':missing', async () => {
    expect(await patient('gender:missing=true')).toEqual(['bare']);
    expect(await patient('gender:missing=false')).toEqual(allBut(patients, 'bare'));
  });
});

describe('token on boolean (Patient.active, Patient.deceased)', () => {
  it('matches true and false', async () => {
    expect(await patient('active=true')).toEqual(sorted(['male', 'unknown']));
    expect(await patient('active=false')).toEqual(['female']);
    expect(await patient('active:not=true')).toEqual(sorted(['female', 'other', 'bare']));
    expect(await patient('active:missing=true')).toEqual(sorted(['other', 'bare']));
  });

  it('deceased is its expression: deceased.exists() and deceased != false', async () => {
    // A deceasedDateTime is "deceased"; no deceased[x] at all evaluates to false, not to nothing.
    expect(await patient('deceased=true')).toEqual(sorted(['female', 'other']));
    expect(await patient('deceased=false')).toEqual(sorted(['male', 'unknown', 'bare']));
  });
});

describe('token on Identifier (Patient.identifier)', () => {
  it('value alone, system|value, |value, system|', async () => {
    expect(await patient('identifier=MRN-1')).toEqual(sorted(['male', 'female', 'other']));
    expect(await patient(`identifier=${q(`${MRN}|MRN-1`)}`)).toEqual(['male']);
    expect(await patient(`identifier=${q(`${NATIONAL}|MRN-1`)}`)).toEqual(['female']);
    expect(await patient(`identifier=${q('|MRN-1')}`)).toEqual(['other']);
    expect(await patient(`identifier=${q(`${MRN}|`)}`)).toEqual(sorted(['male', 'female']));
    expect(await patient(`identifier=${q(`${NATIONAL}|MRN-2`)}`)).toEqual([]);
    expect(await patient('identifier=mrn-1')).toEqual([]); // identifier values are case-sensitive
  });

  it(':of-type matches type system, type code and value of one identifier', async () => {
    expect(await patient(`identifier:of-type=${q(`${V2_0203}|MR|MRN-1`)}`)).toEqual(['male']);
    expect(await patient(`identifier:of-type=${q(`${V2_0203}|NI|MRN-1`)}`)).toEqual(['female']);
    // MRN-2 has no type; the female patient's NI identifier has another value.
    expect(await patient(`identifier:of-type=${q(`${V2_0203}|NI|MRN-2`)}`)).toEqual([]);
    expect(await patient(`identifier:of-type=${q(`${V2_0203}|MR|MRN-1,${V2_0203}|NI|MRN-1`)}`)).toEqual(['female', 'male']);
    expect(await patient(`identifier:of-type=${q(`http://other.example|MR|MRN-1`)}`)).toEqual([]);
  });

  it(':of-type refuses a value that is not type-system|type-code|value', async () => {
    await expectSearchError(server, `/fhir/Patient?identifier:of-type=${q(`${V2_0203}|MR`)}`, '"identifier:of-type"');
  });

  it(':text searches the identifier type text', async () => {
    expect(await patient('identifier:text=medical')).toEqual(['male']);
    expect(await patient('identifier:text=record')).toEqual(['male']);
    expect(await patient('identifier:text=MRN')).toEqual([]);
  });
});

describe('token on ContactPoint (Patient.telecom, phone, email)', () => {
  it('matches the value; phone and email only their own kind', async () => {
    expect(await patient('telecom=555-0100')).toEqual(['male']);
    expect(await patient(`telecom=${q('other@example.org')}`)).toEqual(['other']);
    expect(await patient('phone=555-0100')).toEqual(['male']);
    expect(await patient('phone=555-0199')).toEqual(['female']);
    expect(await patient('phone=555-0100,555-0199')).toEqual(['female', 'male']);
    expect(await patient(`email=${q('pat@example.org')}`)).toEqual(['male']);
    expect(await patient('email=555-0100')).toEqual([]); // that value is a phone
    expect(await patient(`phone=${q('pat@example.org')}`)).toEqual([]);
    expect(await patient('telecom:missing=true')).toEqual(sorted(['unknown', 'bare']));
    expect(await patient('email:missing=true')).toEqual(sorted(['female', 'unknown', 'bare']));
  });
});

describe('token on id (_id)', () => {
  it('matches the ids given', async () => {
    expect(await patient(`_id=${patients.male}`)).toEqual(['male']);
    expect(await patient(`_id=${patients.male},${patients.bare}`)).toEqual(['bare', 'male']);
    expect(await patient('_id=no-such-id')).toEqual([]);
    // An Observation's id is not a Patient's.
    expect(await patient(`_id=${observations.heartRate}`)).toEqual([]);
  });
});

/** The common parameters are defined on Resource (`Resource.meta.tag`): they apply to every type. */
describe('token on meta: _tag and _security', () => {
  it('_tag', async () => {
    expect(await patient(`_tag=${q(`${TAGS}|vip`)}`)).toEqual(['male']);
    expect(await patient('_tag=vip')).toEqual(['male']);
    expect(await patient(`_tag=${q(`${TAGS}|`)}`)).toEqual(['male', 'other']);
    expect(await patient(`_tag=${q('http://other.example|vip')}`)).toEqual([]);
    expect(await patient(`_tag:not=${q(`${TAGS}|vip`)}`)).toEqual(allBut(patients, 'male'));
    expect(await patient('_tag:missing=true')).toEqual(sorted(['female', 'unknown', 'bare']));
  });

  it('_security', async () => {
    expect(await patient(`_security=${q(`${CONFIDENTIALITY}|R`)}`)).toEqual(['male']);
    expect(await patient('_security=N')).toEqual(['other']);
    expect(await patient(`_security=${q(`${CONFIDENTIALITY}|`)}`)).toEqual(['male', 'other']);
    expect(await patient('_security:missing=false')).toEqual(['male', 'other']);
  });
});

describe(':in and :not-in', () => {
  it('with a ValueSet of the R4 definitions (administrative-gender: a whole code system)', async () => {
    const genders = q('http://hl7.org/fhir/ValueSet/administrative-gender');
    expect(await patient(`gender:in=${genders}`)).toEqual(allBut(patients, 'bare'));
    // :not-in, like :not, also selects the resources with no code at all.
    expect(await patient(`gender:not-in=${genders}`)).toEqual(['bare']);
  });

  it('with a ValueSet of the R4 definitions (observation-status, whose codes nest)', async () => {
    const statuses = q('http://hl7.org/fhir/ValueSet/observation-status');
    expect(await obs(`status:in=${statuses}`)).toEqual(allBut(observations));
    expect(await obs(`status:not-in=${statuses}`)).toEqual([]);
  });

  it('with a ValueSet posted to the server (concept lists)', async () => {
    expect(await obs(`status:in=${q(doneStatuses.url)}`)).toEqual(sorted(['heartRate', 'bloodPressure', 'textOnly']));
    expect(await obs(`status:not-in=${q(doneStatuses.url)}`)).toEqual(sorted(['noSystem', 'otherSystem']));
    expect(await patient(`gender:in=${q(binaryGender.url)}`)).toEqual(['female', 'male']);
    expect(await patient(`gender:not-in=${q(binaryGender.url)}`)).toEqual(sorted(['other', 'unknown', 'bare']));
  });

  it('compares the system of a Coding: a code of another system is not in the value set', async () => {
    // rhythm = findings#tachy, findings#brady, and every code of the flat system.
    expect(await cond(`code:in=${q(rhythm.url)}`)).toEqual(sorted(['tachy', 'brady', 'flatA']));
    expect(await cond(`code:not-in=${q(rhythm.url)}`)).toEqual(allBut(conditions, 'tachy', 'brady', 'flatA'));
  });

  it('values are ORed', async () => {
    expect(await patient(`gender:in=${q(`${binaryGender.url},http://hl7.org/fhir/ValueSet/administrative-gender`)}`)).toEqual(allBut(patients, 'bare'));
  });

  it('refuses a value set the server does not hold', async () => {
    await expectSearchError(server, `/fhir/Patient?gender:in=${q('http://example.org/fhir/ValueSet/nothing')}`, '"gender:in"', 'http://example.org/fhir/ValueSet/nothing');
  });
});

describe(':above and :below (a hierarchical CodeSystem posted to the server)', () => {
  it(':below is the code and everything under it, in that system only', async () => {
    expect(await cond(`code:below=${q(`${FINDINGS}|arrhythmia`)}`)).toEqual(sorted(['arrhythmia', 'tachy', 'brady']));
    expect(await cond(`code:below=${q(`${FINDINGS}|cardio`)}`)).toEqual(sorted(['cardio', 'arrhythmia', 'tachy', 'brady', 'murmur']));
    expect(await cond(`code:below=${q(`${FINDINGS}|tachy`)}`)).toEqual(['tachy']);
    expect(await cond(`code:below=${q(`${FINDINGS}|resp`)}`)).toEqual(['wheeze']);
  });

  it(':above is the code and everything above it', async () => {
    expect(await cond(`code:above=${q(`${FINDINGS}|tachy`)}`)).toEqual(sorted(['tachy', 'arrhythmia', 'cardio']));
    expect(await cond(`code:above=${q(`${FINDINGS}|murmur`)}`)).toEqual(sorted(['murmur', 'cardio']));
    expect(await cond(`code:above=${q(`${FINDINGS}|cardio`)}`)).toEqual(['cardio']);
    expect(await cond(`code:above=${q(`${FINDINGS}|wheeze`)}`)).toEqual(['wheeze']);
  });

  it('values are ORed', async () => {
    expect(await cond(`code:below=${q(`${FINDINGS}|arrhythmia,${FINDINGS}|resp`)}`)).toEqual(sorted(['arrhythmia', 'tachy', 'brady', 'wheeze']));
  });

  it('refuses a code system without a hierarchy, an unknown one, or a value without system', async () => {
    await expectSearchError(server, `/fhir/Condition?code:below=${q(`${FLAT}|a`)}`, '"code:below"', FLAT);
    await expectSearchError(server, `/fhir/Condition?code:above=${q('http://example.org/unknown|x')}`, '"code:above"', 'http://example.org/unknown');
    await expectSearchError(server, '/fhir/Condition?code:below=tachy', '"code:below"');
  });
});

describe('token errors', () => {
  it('refuses a modifier that tokens do not have', async () => {
    await expectSearchError(server, '/fhir/Patient?gender:exact=male', 'exact');
  });

  it('refuses a bare "|"', async () => {
    await expectSearchError(server, `/fhir/Patient?identifier=${q('|')}`, '"identifier"');
  });

  it('a CodeSystem and a ValueSet were stored as such (the fixtures are what the tests think)', async () => {
    const response = await fhirRequest(server.app, 'GET', `/fhir/CodeSystem?url=${q(FINDINGS)}`);
    expect(response.body.entry).toHaveLength(1);
  });
});
