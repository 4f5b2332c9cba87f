import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, FHIR_BASE, startTestServer, type TestServer } from '../support/test-server.js';
import { createAll, createResource, expectMatches, expectSearchError, q, type Fixture, type Ids } from './values-support.js';

/**
 * reference parameters (https://hl7.org/fhir/R4/search.html#reference, #versions): `[id]`,
 * `[type]/[id]` and `[url]`; "a relative reference resolving to the same value as a specified
 * absolute URL, or vice versa, qualifies as a match" (the test server's base is http://fhir.test/fhir);
 * the `:[type]` modifier; `:identifier` (a token search on Reference.identifier); `:missing`.
 */

let server: TestServer;

const observation = (extra: Record<string, unknown> = {}): Fixture => ({
  resourceType: 'Observation',
  status: 'final',
  code: { text: 'reference test' },
  ...extra,
});
const about = (reference: string, extra: Record<string, unknown> = {}) => observation({ subject: { reference }, ...extra });
const MRN = 'http://acme.org/mrn';

let ids: Ids;
let responses: Ids;

beforeAll(async () => {
  server = await startTestServer();
  ids = await createAll(server, {
    relative: about('Patient/p1'),
    absoluteLocal: about(`${FHIR_BASE}/Patient/p1`),
    versioned: about('Patient/p1/_history/1'),
    absoluteVersioned: about(`${FHIR_BASE}/Patient/p1/_history/2`),
    withEncounter: about('Patient/p1', { encounter: { reference: 'Encounter/e1' } }),
    otherPatient: about('Patient/p2'),
    external: about('http://other.org/fhir/Patient/p1'),
    groupShared: about('Group/shared'),
    patientShared: about('Patient/shared'),
    identifierOnly: observation({ subject: { identifier: { system: MRN, value: '12345' }, display: 'by MRN only' } }),
    identifierNoSystem: observation({ subject: { identifier: { value: '777' } } }),
    referenceAndIdentifier: observation({ subject: { reference: 'Patient/p3', identifier: { system: MRN, value: '999' } } }),
    noSubject: observation(),
  });
  responses = await createAll(server, {
    q1: { resourceType: 'QuestionnaireResponse', status: 'completed', questionnaire: 'http://acme.org/Questionnaire/q1' },
    q10: { resourceType: 'QuestionnaireResponse', status: 'completed', questionnaire: 'http://acme.org/Questionnaire/q10' },
    q2v2: { resourceType: 'QuestionnaireResponse', status: 'completed', questionnaire: 'http://acme.org/Questionnaire/q2|2.0' },
    local: { resourceType: 'QuestionnaireResponse', status: 'completed', questionnaire: `${FHIR_BASE}/Questionnaire/q3` },
    none: { resourceType: 'QuestionnaireResponse', status: 'completed' },
  });
});

afterAll(async () => {
  await server?.close();
});

const TO_P1 = ['relative', 'absoluteLocal', 'versioned', 'absoluteVersioned', 'withEncounter'];

const expectObservations = (query: string, expected: string[]) => expectMatches(server, `/fhir/Observation?${query}`, 'Observation', ids, expected);

describe('reference: id, Type/id and URL', () => {
  it('[type]/[id] matches relative references, absolute ones on our base, and version-specific ones', async () => {
    await expectObservations('subject=Patient/p1', TO_P1);
  });

  it('[id] matches a local reference of any type with that id', async () => {
    await expectObservations('subject=p1', TO_P1);
    await expectObservations('subject=p2', ['otherPatient']);
  });

  it('an absolute URL on our base matches the relative references too', async () => {
    await expectObservations(`subject=${q(`${FHIR_BASE}/Patient/p1`)}`, TO_P1);
  });

  it('a version-specific search value finds the references to that resource (search acts on current resources)', async () => {
    await expectObservations('subject=Patient/p1/_history/1', TO_P1);
  });

  it('a reference to another server is matched by its absolute URL only, not by the id it ends with', async () => {
    await expectObservations(`subject=${q('http://other.org/fhir/Patient/p1')}`, ['external']);
    await expectObservations(`subject=${q('http://other.org/fhir/Patient/p2')}`, []);
  });

  it('a reference to nothing stored is not an error: it matches what refers to it (e1 was never created)', async () => {
    await expectObservations('encounter=Encounter/e1', ['withEncounter']);
    await expectObservations('encounter=e1', ['withEncounter']);
    await expectObservations('subject=Patient/nobody', []);
  });

  it('several values are ORed, repeated parameters ANDed', async () => {
    await expectObservations('subject=Patient/p1,Patient/p2', [...TO_P1, 'otherPatient']);
    await expectObservations('subject=Patient/p1&subject=Patient/p2', []);
    await expectObservations('subject=Patient/p1&encounter=e1', ['withEncounter']);
  });
});

describe('reference: the target type', () => {
  it(':[type] restricts the target type', async () => {
    await expectObservations('subject:Patient=p1', TO_P1);
    await expectObservations('subject:Patient=shared', ['patientShared']);
    await expectObservations('subject:Group=shared', ['groupShared']);
    await expectObservations('subject:Group=p1', []);
    await expectObservations('subject:Patient=Patient/p2', ['otherPatient']);
  });

  it('Type/id distinguishes resources of two types with one id', async () => {
    await expectObservations('subject=Group/shared', ['groupShared']);
    await expectObservations('subject=Patient/shared', ['patientShared']);
  });

  it('patient= only holds references to Patients ("there is no need to specify :Patient")', async () => {
    await expectObservations('patient=shared', ['patientShared']);
    await expectObservations('patient=p1', TO_P1);
    await expectObservations('patient=Group/shared', []);
  });

  it('a modifier that is neither a type, :identifier nor :missing is refused', async () => {
    await expectSearchError(server, '/fhir/Observation?subject:exact=p1', 'exact');
    await expectSearchError(server, '/fhir/Observation?subject:NotAType=p1', 'NotAType');
  });
});

describe('reference: :identifier and :missing', () => {
  it(':identifier searches Reference.identifier as a token', async () => {
    await expectObservations(`subject:identifier=${q(`${MRN}|12345`)}`, ['identifierOnly']);
    await expectObservations('subject:identifier=12345', ['identifierOnly']);
    await expectObservations(`subject:identifier=${q(`${MRN}|999`)}`, ['referenceAndIdentifier']);
    await expectObservations(`subject:identifier=${q('|777')}`, ['identifierNoSystem']);
    await expectObservations(`subject:identifier=${q(`${MRN}|777`)}`, []);
    await expectObservations(`subject:identifier=${q('http://other.org/mrn|12345')}`, []);
  });

  it('the identifier is not the reference: Patient/p3 is found by its reference, not by 999', async () => {
    await expectObservations('subject=Patient/p3', ['referenceAndIdentifier']);
    await expectObservations('subject=999', []);
  });

  it(':missing=true finds resources without the element; a Reference with only an identifier is present', async () => {
    const all = Object.keys(ids);
    await expectObservations('subject:missing=true', ['noSubject']);
    await expectObservations('subject:missing=false', all.filter((label) => label !== 'noSubject'));
    await expectObservations('encounter:missing=false', ['withEncounter']);
    await expectSearchError(server, '/fhir/Observation?subject:missing=maybe', 'subject');
  });
});

describe('reference: canonical', () => {
  const expectResponses = (value: string, expected: string[]) =>
    expectMatches(server, `/fhir/QuestionnaireResponse?questionnaire=${q(value)}`, 'QuestionnaireResponse', responses, expected);

  it('a canonical URL matches exactly, not as a prefix', async () => {
    await expectResponses('http://acme.org/Questionnaire/q1', ['q1']);
    await expectResponses('http://acme.org/Questionnaire/q10', ['q10']);
    await expectResponses('http://acme.org/Questionnaire', []);
  });

  it('a canonical with a |version matches that version', async () => {
    await expectResponses('http://acme.org/Questionnaire/q2|2.0', ['q2v2']);
    await expectResponses('http://acme.org/Questionnaire/q2|1.0', []);
  });

  it('a canonical on our own base is also found as Type/id', async () => {
    await expectResponses(`${FHIR_BASE}/Questionnaire/q3`, ['local']);
    await expectResponses('Questionnaire/q3', ['local']);
  });

  it(':missing', async () => {
    await expectMatches(server, '/fhir/QuestionnaireResponse?questionnaire:missing=true', 'QuestionnaireResponse', responses, ['none']);
  });
});

describe('reference: writes', () => {
  it('a reference to a deleted resource still matches: the referring resource still says so', async () => {
    const target = await createResource(server, { resourceType: 'Patient', name: [{ family: 'Gone' }] });
    const referring = await createResource(server, { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: `Patient/${target.id}` } });
    const deleted = await fhirRequest(server.app, 'DELETE', `/fhir/Patient/${target.id}`);
    expect([200, 204]).toContain(deleted.status);
    await expectMatches(server, `/fhir/Encounter?subject=Patient/${target.id}`, 'Encounter', { referring: referring.id }, ['referring']);
    await expectMatches(server, `/fhir/Encounter?patient=${target.id}`, 'Encounter', { referring: referring.id }, ['referring']);
  });

  it('a deleted referring resource is no longer found', async () => {
    const referring = await createResource(server, { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: 'Patient/deleted-source' } });
    await expectMatches(server, '/fhir/Encounter?subject=Patient/deleted-source', 'Encounter', { referring: referring.id }, ['referring']);
    await fhirRequest(server.app, 'DELETE', `/fhir/Encounter/${referring.id}`);
    await expectMatches(server, '/fhir/Encounter?subject=Patient/deleted-source', 'Encounter', {}, []);
  });

  it('a reference changed by an update: the old value no longer matches, the new one does', async () => {
    const encounter = { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: 'Patient/before' } };
    const created = await createResource(server, encounter);
    const labels = { moved: created.id };
    await expectMatches(server, '/fhir/Encounter?subject=Patient/before', 'Encounter', labels, ['moved']);
    const updated = await fhirRequest(server.app, 'PUT', `/fhir/Encounter/${created.id}`, { ...encounter, id: created.id, subject: { reference: 'Patient/after' } });
    expect(updated.status, updated.text).toBe(200);
    await expectMatches(server, '/fhir/Encounter?subject=Patient/before', 'Encounter', labels, []);
    await expectMatches(server, '/fhir/Encounter?subject=Patient/after', 'Encounter', labels, ['moved']);
    // and a reference removed by an update is missing from then on
    const removed = await fhirRequest(server.app, 'PUT', `/fhir/Encounter/${created.id}`, { resourceType: 'Encounter', id: created.id, status: 'finished', class: { code: 'AMB' } });
    expect(removed.status, removed.text).toBe(200);
    await expectMatches(server, '/fhir/Encounter?subject=Patient/after', 'Encounter', labels, []);
    await expectMatches(server, `/fhir/Encounter?subject:missing=true&_id=${created.id}`, 'Encounter', labels, ['moved']);
  });
});
