import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/test-server.js';
import {
  encounter,
  expectBadRequest,
  matchIds,
  matches,
  named,
  observation,
  organization,
  outcomeEntry,
  patient,
  practitioner,
  put,
  ref,
  remove,
  searchOk,
  STRICT,
} from './machinery-support.js';

/**
 * Chained parameters (search.html#chaining) and reverse chaining with `_has` (search.html#has).
 * The data: who refers to whom is known, so each search has one exact answer; without `_sort`
 * the server orders by type and id, so the answers are compared in that order.
 */
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  await put(
    server,
    organization('org-acme', 'Acme Health'),
    organization('org-zeta', 'Zeta Clinic'),
    organization('org-yarrow', 'Yarrow Practice'),
    practitioner('pr-yves', 'Yarrow'),
    practitioner('pr-other', 'Otherton'),
    // alice: GP a Practitioner named Yarrow, managed by Acme.
    patient('pat-alice', { ...named('Alpha', 'Alice'), generalPractitioner: [ref('Practitioner/pr-yves')], managingOrganization: ref('Organization/org-acme') }),
    // bob: GP Otherton, managed by Zeta.
    patient('pat-bob', { ...named('Beta', 'Bob'), generalPractitioner: [ref('Practitioner/pr-other')], managingOrganization: ref('Organization/org-zeta') }),
    // carl: GP an Organization named Yarrow Practice; no managing organization.
    patient('pat-carl', { ...named('Gamma', 'Carl'), generalPractitioner: [ref('Organization/org-yarrow')] }),
    { resourceType: 'Location', id: 'loc-alpha', name: 'Alpha Wing' },
    encounter('enc-1', { subject: ref('Patient/pat-alice') }),
    encounter('enc-2', { subject: ref('Patient/pat-bob') }),
    encounter('enc-3', { subject: ref('Patient/pat-carl') }),
    observation('obs-1', '1234-5', { subject: ref('Patient/pat-alice'), encounter: ref('Encounter/enc-1') }),
    observation('obs-2', '9999-9', { subject: ref('Patient/pat-bob'), encounter: ref('Encounter/enc-2') }),
    observation('obs-3', '1234-5', { subject: ref('Location/loc-alpha') }),
    observation('obs-4', '5555-5', { subject: ref('Patient/pat-carl'), encounter: ref('Encounter/enc-3') }),
    // A reference to nothing: chains through it find no target.
    observation('obs-5', '1234-5', { subject: ref('Patient/pat-missing') }),
  );
});

afterAll(async () => {
  await server?.close();
});

describe('chaining', () => {
  it('follows a reference with an explicit target type: subject:Patient.name', async () => {
    expect(matchIds(await searchOk(server, '/fhir/Observation?subject:Patient.name=alpha'))).toEqual(['obs-1']);
    expect(matchIds(await searchOk(server, '/fhir/Observation?subject:Patient.name=beta'))).toEqual(['obs-2']);
    // The Location named "Alpha Wing" is not a Patient.
    expect(matchIds(await searchOk(server, '/fhir/Observation?subject:Location.name=alpha'))).toEqual(['obs-3']);
  });

  it('takes the target types from the parameter when no type is given: subject.name', async () => {
    // subject may be a Patient, Group, Device or Location: the Patient Alpha and the Location Alpha Wing both match.
    expect(matchIds(await searchOk(server, '/fhir/Observation?subject.name=alpha'))).toEqual(['obs-1', 'obs-3']);
    // patient targets Patient only.
    expect(matchIds(await searchOk(server, '/fhir/Observation?patient.name=alpha'))).toEqual(['obs-1']);
  });

  it('ORs the values of a chained parameter and ANDs repeated chains', async () => {
    expect(matchIds(await searchOk(server, '/fhir/Observation?subject:Patient.name=alpha,beta'))).toEqual(['obs-1', 'obs-2']);
    expect(matchIds(await searchOk(server, '/fhir/Observation?subject:Patient.name=alpha,beta&code=9999-9'))).toEqual(['obs-2']);
    expect(matchIds(await searchOk(server, '/fhir/Observation?subject:Patient.name=alpha&subject:Patient.given=alice'))).toEqual(['obs-1']);
    expect(matchIds(await searchOk(server, '/fhir/Observation?subject:Patient.name=alpha&subject:Patient.given=bob'))).toEqual([]);
  });

  it('ends a chain in any parameter type: _id, reference, token', async () => {
    expect(matchIds(await searchOk(server, '/fhir/Observation?subject:Patient._id=pat-bob'))).toEqual(['obs-2']);
    expect(matchIds(await searchOk(server, '/fhir/Observation?patient.general-practitioner=Practitioner/pr-yves'))).toEqual(['obs-1']);
    expect(matchIds(await searchOk(server, '/fhir/Encounter?subject:Patient.organization=Organization/org-zeta'))).toEqual(['enc-2']);
  });

  it('chains to depth 2: patient.general-practitioner.name, over every target type of the middle link', async () => {
    // alice's GP is the Practitioner Yarrow, carl's the Organization "Yarrow Practice".
    expect(matchIds(await searchOk(server, '/fhir/Observation?patient.general-practitioner.name=yarrow'))).toEqual(['obs-1', 'obs-4']);
    expect(matchIds(await searchOk(server, '/fhir/Observation?patient.general-practitioner:Practitioner.name=yarrow'))).toEqual(['obs-1']);
    expect(matchIds(await searchOk(server, '/fhir/Observation?patient.general-practitioner:Organization.name=yarrow'))).toEqual(['obs-4']);
    expect(matchIds(await searchOk(server, '/fhir/Encounter?subject:Patient.organization.name=acme'))).toEqual(['enc-1']);
    expect(matchIds(await searchOk(server, '/fhir/Encounter?subject:Patient.organization.name=zeta'))).toEqual(['enc-2']);
    expect(matchIds(await searchOk(server, '/fhir/Encounter?subject:Patient.organization.name=nobody'))).toEqual([]);
  });

  it('chains to depth 3: encounter.subject:Patient.organization.name', async () => {
    expect(matchIds(await searchOk(server, '/fhir/Observation?encounter.subject:Patient.organization.name=acme'))).toEqual(['obs-1']);
    expect(matchIds(await searchOk(server, '/fhir/Observation?encounter.patient.general-practitioner.name=yarrow'))).toEqual(['obs-1', 'obs-4']);
  });

  it('applies a modifier at the end of the chain: subject:Patient.name:exact', async () => {
    expect(matchIds(await searchOk(server, '/fhir/Observation?subject:Patient.name:exact=Alpha'))).toEqual(['obs-1']);
    expect(matchIds(await searchOk(server, '/fhir/Observation?subject:Patient.name:exact=alpha'))).toEqual([]);
    expect(matchIds(await searchOk(server, '/fhir/Observation?subject:Patient.name:contains=amm'))).toEqual(['obs-4']);
    expect(matchIds(await searchOk(server, '/fhir/Observation?subject:Patient.family:missing=false'))).toEqual(['obs-1', 'obs-2', 'obs-4']);
  });

  it('finds nothing through a reference to a missing or deleted target', async () => {
    await put(server, patient('pat-gone', named('Deletia')), observation('obs-gone', '3333-3', { subject: ref('Patient/pat-gone') }));
    expect(matchIds(await searchOk(server, '/fhir/Observation?subject:Patient.name=deletia'))).toEqual(['obs-gone']);
    await remove(server, 'Patient/pat-gone');
    expect(matchIds(await searchOk(server, '/fhir/Observation?subject:Patient.name=deletia'))).toEqual([]);
    expect(matchIds(await searchOk(server, '/fhir/Observation?subject:Patient._id=pat-gone'))).toEqual([]);
    expect(matchIds(await searchOk(server, '/fhir/Observation?subject:Patient._id=pat-missing'))).toEqual([]);
    // The reference itself is still there: a plain reference search finds it.
    expect(matchIds(await searchOk(server, '/fhir/Observation?subject=Patient/pat-gone'))).toEqual(['obs-gone']);
  });

  it('follows the target as it is now, after an update', async () => {
    await put(server, patient('pat-renamed', named('Before')), observation('obs-renamed', '4444-4', { subject: ref('Patient/pat-renamed') }));
    expect(matchIds(await searchOk(server, '/fhir/Observation?subject:Patient.name=before'))).toEqual(['obs-renamed']);
    await put(server, patient('pat-renamed', named('After')));
    expect(matchIds(await searchOk(server, '/fhir/Observation?subject:Patient.name=before'))).toEqual([]);
    expect(matchIds(await searchOk(server, '/fhir/Observation?subject:Patient.name=after'))).toEqual(['obs-renamed']);
  });

  it('refuses to chain on a parameter that is not a reference (400)', async () => {
    await expectBadRequest(server, '/fhir/Observation?code.name=x');
    await expectBadRequest(server, '/fhir/Patient?birthdate.name=x');
    await expectBadRequest(server, '/fhir/Observation?subject:Patient.birthdate.name=x');
  });

  it('refuses a target type that is not a resource type (400)', async () => {
    await expectBadRequest(server, '/fhir/Observation?subject:Nonsense.name=x');
  });

  it('ignores an unknown chained parameter with a warning, or refuses it under handling=strict', async () => {
    const lenient = await searchOk(server, '/fhir/Observation?subject:Patient.nonsense=x&code=9999-9');
    expect(matchIds(lenient)).toEqual(['obs-2']);
    const outcome = outcomeEntry(lenient);
    expect(outcome?.issue[0].severity).toBe('warning');
    expect(outcome?.issue[0].diagnostics).toContain('nonsense');
    await expectBadRequest(server, '/fhir/Observation?subject:Patient.nonsense=x', STRICT);
    await expectBadRequest(server, '/fhir/Observation?nonsense.name=x', STRICT);
    await expectBadRequest(server, '/fhir/Observation?patient.general-practitioner.nonsense=x', STRICT);
  });
});

describe('_has (reverse chaining)', () => {
  it('selects the resources that some resource of another type refers to and meets a criterion', async () => {
    expect(matchIds(await searchOk(server, '/fhir/Patient?_has:Observation:patient:code=1234-5'))).toEqual(['pat-alice']);
    expect(matchIds(await searchOk(server, '/fhir/Patient?_has:Observation:subject:code=9999-9'))).toEqual(['pat-bob']);
    expect(matchIds(await searchOk(server, '/fhir/Location?_has:Observation:subject:code=1234-5'))).toEqual(['loc-alpha']);
    expect(matchIds(await searchOk(server, '/fhir/Patient?_has:Observation:patient:code=0000-0'))).toEqual([]);
  });

  it('ORs several values', async () => {
    expect(matchIds(await searchOk(server, '/fhir/Patient?_has:Observation:patient:code=1234-5,9999-9'))).toEqual(['pat-alice', 'pat-bob']);
  });

  it('ANDs _has with other criteria and other _has', async () => {
    expect(matchIds(await searchOk(server, '/fhir/Patient?_has:Observation:patient:code=1234-5,9999-9&name=beta'))).toEqual(['pat-bob']);
    expect(
      matchIds(await searchOk(server, '/fhir/Patient?_has:Observation:patient:code=1234-5,9999-9&_has:Encounter:subject:_id=enc-1')),
    ).toEqual(['pat-alice']);
  });

  it('nests: _has:Encounter:patient:_has:Observation:encounter:code', async () => {
    expect(matchIds(await searchOk(server, '/fhir/Patient?_has:Encounter:patient:_has:Observation:encounter:code=9999-9'))).toEqual(['pat-bob']);
    expect(matchIds(await searchOk(server, '/fhir/Patient?_has:Encounter:patient:_has:Observation:encounter:code=5555-5,1234-5'))).toEqual([
      'pat-alice',
      'pat-carl',
    ]);
  });

  it('ends in a chain or a modifier', async () => {
    expect(matchIds(await searchOk(server, '/fhir/Practitioner?_has:Patient:general-practitioner:name:exact=Alpha'))).toEqual(['pr-yves']);
    expect(matchIds(await searchOk(server, '/fhir/Organization?_has:Patient:organization:_has:Encounter:patient:_id=enc-2'))).toEqual(['org-zeta']);
  });

  it('does not count deleted referrers', async () => {
    await put(server, patient('pat-has-del', named('Hasdel')), observation('obs-has-del', '7777-7', { subject: ref('Patient/pat-has-del') }));
    expect(matchIds(await searchOk(server, '/fhir/Patient?_has:Observation:patient:code=7777-7'))).toEqual(['pat-has-del']);
    await remove(server, 'Observation/obs-has-del');
    expect(matchIds(await searchOk(server, '/fhir/Patient?_has:Observation:patient:code=7777-7'))).toEqual([]);
  });

  it('refuses a malformed _has (400)', async () => {
    await expectBadRequest(server, '/fhir/Patient?_has:Observation:patient=1234-5');
    await expectBadRequest(server, '/fhir/Patient?_has:Observation=1234-5');
    await expectBadRequest(server, '/fhir/Patient?_has=1234-5');
    await expectBadRequest(server, '/fhir/Patient?_has:NotAType:patient:code=1234-5');
    await expectBadRequest(server, '/fhir/Patient?_has:Observation:code:code=1234-5');
  });

  it('treats an unknown parameter at the end of _has like any unknown parameter', async () => {
    const lenient = await searchOk(server, '/fhir/Patient?_has:Observation:patient:nonsense=1&name=gamma');
    expect(matches(lenient)).toEqual(['Patient/pat-carl']);
    expect(outcomeEntry(lenient)?.issue[0].severity).toBe('warning');
    await expectBadRequest(server, '/fhir/Patient?_has:Observation:patient:nonsense=1', STRICT);
  });
});
