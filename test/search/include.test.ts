import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FHIR_BASE, startTestServer, type TestServer } from '../support/test-server.js';
import {
  encounter,
  entries,
  expectBadRequest,
  included,
  link,
  matches,
  named,
  observation,
  organization,
  patient,
  practitioner,
  put,
  ref,
  remove,
  searchOk,
  type Resource,
} from './machinery-support.js';

/**
 * `_include` and `_revinclude` (search.html#include): the resources the matches refer to (or that
 * refer to them) come in the same Bundle with `search.mode = include`, each once, never a match
 * again, never a deleted one; `:iterate` follows from what was included.
 */
let server: TestServer;

const medicationRequest = (id: string, subject: string): Resource => ({
  resourceType: 'MedicationRequest',
  id,
  status: 'active',
  intent: 'order',
  medicationCodeableConcept: { text: 'aspirin' },
  subject: ref(subject),
});

beforeAll(async () => {
  server = await startTestServer();
  await put(
    server,
    practitioner('pr-1', 'One'),
    practitioner('pr-2', 'Two'),
    organization('org-1', 'Org One'),
    patient('pat-1', { ...named('First'), generalPractitioner: [ref('Practitioner/pr-1')] }),
    patient('pat-2', { ...named('Second'), generalPractitioner: [ref('Practitioner/pr-2'), ref('Organization/org-1')] }),
    { resourceType: 'Device', id: 'dev-1' },
    encounter('enc-1', { subject: ref('Patient/pat-1') }),
    encounter('enc-2', { subject: ref('Patient/pat-2') }),
    observation('obs-1', 'A', { subject: ref('Patient/pat-1'), encounter: ref('Encounter/enc-1'), performer: [ref('Practitioner/pr-1')] }),
    observation('obs-2', 'A', { subject: ref('Patient/pat-2') }),
    observation('obs-3', 'B', { subject: ref('Patient/pat-1'), hasMember: [ref('Observation/obs-1')] }),
    observation('obs-4', 'A', { subject: ref('Device/dev-1') }),
    {
      resourceType: 'Provenance',
      id: 'prov-1',
      target: [ref('Observation/obs-1')],
      recorded: '2024-01-01T00:00:00Z',
      agent: [{ who: ref('Practitioner/pr-1') }],
    },
    medicationRequest('mr-1', 'Patient/pat-1'),
    medicationRequest('mr-2', 'Patient/pat-2'),
  );
});

afterAll(async () => {
  await server?.close();
});

describe('_include', () => {
  it('adds the resources the matches refer to, with search.mode = include', async () => {
    const response = await searchOk(server, '/fhir/Observation?code=A&_include=Observation:patient');
    expect(matches(response)).toEqual(['Observation/obs-1', 'Observation/obs-2', 'Observation/obs-4']);
    expect(included(response)).toEqual(['Patient/pat-1', 'Patient/pat-2']);
    // The total counts the matches only (search.html#total).
    expect(response.body.total).toBe(3);
    for (const entry of entries(response)) {
      expect(['match', 'include']).toContain(entry.search?.mode);
      expect(entry.fullUrl).toBe(`${FHIR_BASE}/${entry.resource.resourceType}/${entry.resource.id}`);
    }
    // The matches come first; included resources after them.
    const modes = entries(response).map((e) => e.search?.mode);
    expect(modes).toEqual(['match', 'match', 'match', 'include', 'include']);
  });

  it('includes a resource once, however many matches refer to it', async () => {
    // obs-1 and obs-3 both refer to pat-1.
    const response = await searchOk(server, '/fhir/Observation?_include=Observation:patient');
    expect(matches(response)).toEqual(['Observation/obs-1', 'Observation/obs-2', 'Observation/obs-3', 'Observation/obs-4']);
    const all = entries(response).filter((e) => e.search?.mode === 'include').map((e) => `${e.resource.resourceType}/${e.resource.id}`);
    expect(all.sort()).toEqual(['Patient/pat-1', 'Patient/pat-2']);
  });

  it('restricts a reference with several target types to the one named: Observation:subject:Patient', async () => {
    expect(included(await searchOk(server, '/fhir/Observation?code=A&_include=Observation:subject'))).toEqual([
      'Device/dev-1',
      'Patient/pat-1',
      'Patient/pat-2',
    ]);
    expect(included(await searchOk(server, '/fhir/Observation?code=A&_include=Observation:subject:Patient'))).toEqual([
      'Patient/pat-1',
      'Patient/pat-2',
    ]);
    expect(included(await searchOk(server, '/fhir/Observation?code=A&_include=Observation:subject:Device'))).toEqual(['Device/dev-1']);
  });

  it('includes through every reference parameter with _include=*', async () => {
    const response = await searchOk(server, '/fhir/Observation?_id=obs-1&_include=*');
    expect(matches(response)).toEqual(['Observation/obs-1']);
    expect(included(response)).toEqual(['Encounter/enc-1', 'Patient/pat-1', 'Practitioner/pr-1']);
  });

  it('combines several _include parameters', async () => {
    const response = await searchOk(server, '/fhir/Observation?_id=obs-1&_include=Observation:encounter&_include=Observation:performer');
    expect(included(response)).toEqual(['Encounter/enc-1', 'Practitioner/pr-1']);
  });

  it('ignores an _include whose source type is not the searched type (without :iterate)', async () => {
    const response = await searchOk(server, '/fhir/MedicationRequest?_include=MedicationRequest:patient&_include=Patient:general-practitioner');
    expect(matches(response)).toEqual(['MedicationRequest/mr-1', 'MedicationRequest/mr-2']);
    expect(included(response)).toEqual(['Patient/pat-1', 'Patient/pat-2']);
  });

  it('never repeats a match as an include', async () => {
    // obs-3 has obs-1 as a member; when both match, obs-1 is a match only.
    const both = await searchOk(server, '/fhir/Observation?_id=obs-1,obs-3&_include=Observation:has-member');
    expect(matches(both)).toEqual(['Observation/obs-1', 'Observation/obs-3']);
    expect(included(both)).toEqual([]);
    const one = await searchOk(server, '/fhir/Observation?_id=obs-3&_include=Observation:has-member');
    expect(matches(one)).toEqual(['Observation/obs-3']);
    expect(included(one)).toEqual(['Observation/obs-1']);
  });

  it('includes per page: each page carries what its own matches refer to', async () => {
    const first = await searchOk(server, '/fhir/Observation?code=A&_include=Observation:subject&_count=2');
    expect(matches(first)).toEqual(['Observation/obs-1', 'Observation/obs-2']);
    expect(included(first)).toEqual(['Patient/pat-1', 'Patient/pat-2']);
    const second = await searchOk(server, link(first, 'next') as string);
    expect(matches(second)).toEqual(['Observation/obs-4']);
    expect(included(second)).toEqual(['Device/dev-1']);
    expect(link(second, 'next')).toBeUndefined();
  });

  it('leaves out deleted resources and references to nothing', async () => {
    await put(
      server,
      practitioner('pr-gone', 'Gone'),
      patient('pat-3', { ...named('Third'), generalPractitioner: [ref('Practitioner/pr-gone'), ref('Practitioner/pr-never')] }),
    );
    expect(included(await searchOk(server, '/fhir/Patient?_id=pat-3&_include=Patient:general-practitioner'))).toEqual(['Practitioner/pr-gone']);
    await remove(server, 'Practitioner/pr-gone');
    const response = await searchOk(server, '/fhir/Patient?_id=pat-3&_include=Patient:general-practitioner');
    expect(matches(response)).toEqual(['Patient/pat-3']);
    expect(included(response)).toEqual([]);
  });

  it('refuses an invalid _include (400)', async () => {
    await expectBadRequest(server, '/fhir/Observation?_include=Observation');
    await expectBadRequest(server, '/fhir/Observation?_include=Observation:code');
    await expectBadRequest(server, '/fhir/Observation?_include=Observation:nonsense');
    await expectBadRequest(server, '/fhir/Observation?_include=Nonsense:patient');
    await expectBadRequest(server, '/fhir/Observation?_include=Observation:subject:Nonsense');
    await expectBadRequest(server, '/fhir/Observation?_include=');
  });

  it('refuses an invalid _include even when the search matches nothing', async () => {
    await expectBadRequest(server, '/fhir/Observation?code=nothing&_include=Observation:code');
  });
});

describe('_revinclude', () => {
  it('adds the resources that refer to the matches: Provenance:target', async () => {
    const response = await searchOk(server, '/fhir/Observation?_id=obs-1,obs-2&_revinclude=Provenance:target');
    expect(matches(response)).toEqual(['Observation/obs-1', 'Observation/obs-2']);
    expect(included(response)).toEqual(['Provenance/prov-1']);
    expect(entries(response).find((e) => e.resource.resourceType === 'Provenance')?.search?.mode).toBe('include');
  });

  it('adds the Observations of an Encounter: Observation:encounter', async () => {
    const response = await searchOk(server, '/fhir/Encounter?_revinclude=Observation:encounter');
    expect(matches(response)).toEqual(['Encounter/enc-1', 'Encounter/enc-2']);
    expect(included(response)).toEqual(['Observation/obs-1']);
  });

  it('keeps only references to the target type named: Provenance:target:Observation', async () => {
    // prov-1 targets Observation/obs-1, so it refers to the matches only as an Observation.
    expect(included(await searchOk(server, '/fhir/Observation?_id=obs-1&_revinclude=Provenance:target:Observation'))).toEqual(['Provenance/prov-1']);
    expect(included(await searchOk(server, '/fhir/Observation?_id=obs-1&_revinclude=Provenance:target:Patient'))).toEqual([]);
    // Iterating from pat-1 and its Observations, the target type picks which of them count.
    const throughObservations = '/fhir/Patient?_id=pat-1&_revinclude=Observation:subject&_revinclude:iterate=Provenance:target:Observation';
    expect(included(await searchOk(server, throughObservations))).toEqual(['Observation/obs-1', 'Observation/obs-3', 'Provenance/prov-1']);
    const throughPatients = '/fhir/Patient?_id=pat-1&_revinclude=Observation:subject&_revinclude:iterate=Provenance:target:Patient';
    expect(included(await searchOk(server, throughPatients))).toEqual(['Observation/obs-1', 'Observation/obs-3']);
  });

  it('combines _include and _revinclude without duplicates', async () => {
    const response = await searchOk(
      server,
      '/fhir/Patient?_id=pat-1&_revinclude=Observation:subject&_revinclude=Encounter:patient&_include=Patient:general-practitioner',
    );
    expect(matches(response)).toEqual(['Patient/pat-1']);
    expect(included(response)).toEqual(['Encounter/enc-1', 'Observation/obs-1', 'Observation/obs-3', 'Practitioner/pr-1']);
  });

  it('leaves out deleted referrers', async () => {
    await put(server, encounter('enc-3', { subject: ref('Patient/pat-2') }));
    expect(included(await searchOk(server, '/fhir/Patient?_id=pat-2&_revinclude=Encounter:patient'))).toEqual(['Encounter/enc-2', 'Encounter/enc-3']);
    await remove(server, 'Encounter/enc-3');
    expect(included(await searchOk(server, '/fhir/Patient?_id=pat-2&_revinclude=Encounter:patient'))).toEqual(['Encounter/enc-2']);
  });

  it('refuses an invalid _revinclude (400)', async () => {
    await expectBadRequest(server, '/fhir/Patient?_revinclude=Observation:nonsense');
    await expectBadRequest(server, '/fhir/Patient?_revinclude=Observation:status');
    await expectBadRequest(server, '/fhir/Patient?_revinclude=Nonsense:patient');
  });
});

describe(':iterate', () => {
  it('follows from the included resources: MedicationRequest:patient then Patient:general-practitioner', async () => {
    const response = await searchOk(
      server,
      '/fhir/MedicationRequest?_include=MedicationRequest:patient&_include:iterate=Patient:general-practitioner',
    );
    expect(matches(response)).toEqual(['MedicationRequest/mr-1', 'MedicationRequest/mr-2']);
    expect(included(response)).toEqual(['Organization/org-1', 'Patient/pat-1', 'Patient/pat-2', 'Practitioner/pr-1', 'Practitioner/pr-2']);
    for (const entry of entries(response).slice(2)) expect(entry.search?.mode).toBe('include');
  });

  it('accepts the R3 spelling :recurse', async () => {
    const response = await searchOk(server, '/fhir/MedicationRequest?_id=mr-1&_include=MedicationRequest:patient&_include:recurse=Patient:general-practitioner');
    expect(included(response)).toEqual(['Patient/pat-1', 'Practitioner/pr-1']);
  });

  it('iterates from _revinclude results too', async () => {
    const response = await searchOk(server, '/fhir/Patient?_id=pat-1&_revinclude=Observation:patient&_include:iterate=Observation:encounter');
    expect(matches(response)).toEqual(['Patient/pat-1']);
    expect(included(response)).toEqual(['Encounter/enc-1', 'Observation/obs-1', 'Observation/obs-3']);
  });

  it('does not add back a match reached by iterating', async () => {
    // pat-1 <- obs-1 (revinclude), obs-1 -> pat-1 (iterate): pat-1 stays a match only.
    const response = await searchOk(server, '/fhir/Patient?_id=pat-1&_revinclude:iterate=Observation:patient&_include:iterate=Observation:patient');
    expect(matches(response)).toEqual(['Patient/pat-1']);
    expect(included(response)).toEqual(['Observation/obs-1', 'Observation/obs-3']);
  });
});
