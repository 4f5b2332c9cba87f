import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, startTestServer, type FhirTestResponse, type TestServer } from '../support/test-server.js';
import {
  encounter,
  expectBadRequest,
  issueText,
  link,
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
 * Compartment search (compartmentdefinition.html#search: `GET Patient/123/Observation`,
 * `GET Patient/123/*`) by the R4 Patient CompartmentDefinition's parameters, and system-level
 * search (`GET [base]?_type=...`, `POST [type]/_search` with a form body: search.html#search).
 */
let server: TestServer;

const allergy = (id: string, extra: Record<string, unknown>) => ({
  resourceType: 'AllergyIntolerance',
  id,
  clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
  ...extra,
});

beforeAll(async () => {
  server = await startTestServer();
  await put(
    server,
    patient('cp-1', named('Compart')),
    // cp-2 links to cp-1 (Patient's compartment parameter is `link`): it is in cp-1's compartment.
    patient('cp-2', { ...named('Linked'), link: [{ other: ref('Patient/cp-1'), type: 'seealso' }] }),
    patient('cp-3', named('Outsider')),
    practitioner('cp-pr', 'Doctor'),
    organization('cp-org', 'Compartment Org'),
    observation('cp-obs-1', 'X', { subject: ref('Patient/cp-1') }),
    observation('cp-obs-2', 'Y', { subject: ref('Patient/cp-1') }),
    observation('cp-obs-3', 'X', { subject: ref('Patient/cp-3') }),
    // In cp-1's compartment through performer, although its subject is cp-3.
    observation('cp-obs-4', 'X', { subject: ref('Patient/cp-3'), performer: [ref('Patient/cp-1')] }),
    observation('cp-obs-gone', 'X', { subject: ref('Patient/cp-1') }),
    encounter('cp-enc-1', { subject: ref('Patient/cp-1') }),
    encounter('cp-enc-3', { subject: ref('Patient/cp-3') }),
    // In cp-1's compartment through recorder only.
    allergy('cp-ai-1', { patient: ref('Patient/cp-3'), recorder: ref('Patient/cp-1') }),
    allergy('cp-ai-3', { patient: ref('Patient/cp-3') }),
    // Members of the other R4 compartments: of Encounter cp-enc-1, Practitioner cp-pr, Device cp-dev, RelatedPerson cp-rp.
    observation('cp-obs-enc', 'Z', { subject: ref('Patient/cp-3'), encounter: ref('Encounter/cp-enc-1'), performer: [ref('Practitioner/cp-pr')] }),
    encounter('cp-enc-pr', { subject: ref('Patient/cp-3'), participant: [{ individual: ref('Practitioner/cp-pr') }] }),
    { resourceType: 'Device', id: 'cp-dev' },
    observation('cp-obs-dev', 'D', { subject: ref('Patient/cp-3'), device: ref('Device/cp-dev') }),
    { resourceType: 'RelatedPerson', id: 'cp-rp', patient: ref('Patient/cp-3') },
    patient('cp-4', { ...named('Cared'), link: [{ other: ref('RelatedPerson/cp-rp'), type: 'seealso' }] }),
  );
  await remove(server, 'Observation/cp-obs-gone');

  await put(
    server,
    patient('sys-pat', named('Smith')),
    patient('sys-pat-2', { ...named('Smithers'), gender: 'female' }),
    patient('sys-pat-3', named('Jones')),
    practitioner('sys-pr', 'Smith'),
    organization('sys-org', 'Smith Clinic'),
    patient('shared-id', named('Shared')),
    practitioner('shared-id', 'Shared'),
    organization('shared-id', 'Shared'),
  );
  // The set-up's audit records (members of the compartment) are AuditEvents before any test pages through it.
  await server.auth.audit?.flush();
});

afterAll(async () => {
  await server?.close();
});

describe('compartment search', () => {
  it('GET Patient/{id}/Observation: the Observations whose subject or performer is the patient', async () => {
    const response = await searchOk(server, '/fhir/Patient/cp-1/Observation');
    expect(matches(response)).toEqual(['Observation/cp-obs-1', 'Observation/cp-obs-2', 'Observation/cp-obs-4']);
    expect(response.body.total).toBe(3);
  });

  it('applies criteria inside the compartment', async () => {
    expect(matches(await searchOk(server, '/fhir/Patient/cp-1/Observation?code=X'))).toEqual(['Observation/cp-obs-1', 'Observation/cp-obs-4']);
    expect(matches(await searchOk(server, '/fhir/Patient/cp-1/Observation?code=X&_sort=-_id'))).toEqual(['Observation/cp-obs-4', 'Observation/cp-obs-1']);
    expect(matches(await searchOk(server, '/fhir/Patient/cp-3/Observation?code=X'))).toEqual(['Observation/cp-obs-3', 'Observation/cp-obs-4']);
    expect(matches(await searchOk(server, '/fhir/Patient/cp-1/AllergyIntolerance'))).toEqual(['AllergyIntolerance/cp-ai-1']);
    expect(matches(await searchOk(server, '/fhir/Patient/cp-3/AllergyIntolerance'))).toEqual(['AllergyIntolerance/cp-ai-1', 'AllergyIntolerance/cp-ai-3']);
  });

  it('GET Patient/{id}/*: the patient itself and every member of every type', async () => {
    // AuditEvents of the set-up are in the compartment too (AuditEvent is a member); left out here.
    const response = await searchOk(server, '/fhir/Patient/cp-1/*?_type=AllergyIntolerance,Encounter,Observation,Patient');
    expect(matches(response)).toEqual([
      'AllergyIntolerance/cp-ai-1',
      'Encounter/cp-enc-1',
      'Observation/cp-obs-1',
      'Observation/cp-obs-2',
      'Observation/cp-obs-4',
      'Patient/cp-1',
      'Patient/cp-2',
    ]);
    expect(response.body.total).toBe(7);
  });

  it('pages through a compartment', async () => {
    const first = await searchOk(server, '/fhir/Patient/cp-1/*?_count=4');
    expect(link(first, 'self')).toMatch(/^\/fhir\/Patient\/cp-1\/\*/);
    const second = await searchOk(server, link(first, 'next') as string);
    expect([...matches(first), ...matches(second)]).toEqual(matches(await searchOk(server, '/fhir/Patient/cp-1/*')));
    expect(link(second, 'next')).toBeUndefined();
  });

  it('GET Patient/{id}/Patient: the patient and the patients that link to it', async () => {
    expect(matches(await searchOk(server, '/fhir/Patient/cp-1/Patient'))).toEqual(['Patient/cp-1', 'Patient/cp-2']);
  });

  it('is empty for a patient with nothing in its compartment', async () => {
    const response = await searchOk(server, '/fhir/Patient/nobody/Observation');
    expect(matches(response)).toEqual([]);
    expect(response.body.total).toBe(0);
  });

  it('serves the other R4 compartments: Encounter, Practitioner, Device, RelatedPerson', async () => {
    expect(matches(await searchOk(server, '/fhir/Encounter/cp-enc-1/Observation'))).toEqual(['Observation/cp-obs-enc']);
    expect(matches(await searchOk(server, '/fhir/Encounter/cp-enc-1/*?_type=Encounter,Observation'))).toEqual(['Encounter/cp-enc-1', 'Observation/cp-obs-enc']);
    expect(matches(await searchOk(server, '/fhir/Practitioner/cp-pr/Observation'))).toEqual(['Observation/cp-obs-enc']);
    expect(matches(await searchOk(server, '/fhir/Practitioner/cp-pr/Encounter'))).toEqual(['Encounter/cp-enc-pr']);
    expect(matches(await searchOk(server, '/fhir/Device/cp-dev/Observation'))).toEqual(['Observation/cp-obs-dev']);
    expect(matches(await searchOk(server, '/fhir/RelatedPerson/cp-rp/Patient'))).toEqual(['Patient/cp-4']);
    expect(issueText(await expectBadRequest(server, '/fhir/Encounter/cp-enc-1/Patient'))).toContain('The Encounter compartment has no Patient members');
    await expectBadRequest(server, '/fhir/Organization/cp-org/Observation');
  });

  it('names the five compartments in the CapabilityStatement', async () => {
    const response = await fhirRequest(server.app, 'GET', '/fhir/metadata');
    expect(response.body.rest[0].compartment).toEqual([
      'http://hl7.org/fhir/CompartmentDefinition/patient',
      'http://hl7.org/fhir/CompartmentDefinition/encounter',
      'http://hl7.org/fhir/CompartmentDefinition/practitioner',
      'http://hl7.org/fhir/CompartmentDefinition/relatedPerson',
      'http://hl7.org/fhir/CompartmentDefinition/device',
    ]);
  });

  it('refuses a type that has no members in the compartment (400)', async () => {
    await expectBadRequest(server, '/fhir/Patient/cp-1/Organization');
    await expectBadRequest(server, '/fhir/Patient/cp-1/Practitioner');
  });
});

describe('system search', () => {
  it('GET [base]?_type=Patient,Practitioner&name=smith', async () => {
    const response = await searchOk(server, '/fhir?_type=Patient,Practitioner&name=smith');
    expect(matches(response)).toEqual(['Patient/sys-pat', 'Patient/sys-pat-2', 'Practitioner/sys-pr']);
    expect(response.body.total).toBe(3);
    expect(matches(await searchOk(server, '/fhir?_type=Organization&name=smith'))).toEqual(['Organization/sys-org']);
  });

  it('GET [base]?_id=... across every type', async () => {
    expect(matches(await searchOk(server, '/fhir?_id=shared-id'))).toEqual(['Organization/shared-id', 'Patient/shared-id', 'Practitioner/shared-id']);
    expect(matches(await searchOk(server, '/fhir?_id=shared-id&_type=Patient,Organization'))).toEqual(['Organization/shared-id', 'Patient/shared-id']);
    expect(matches(await searchOk(server, '/fhir?_id=shared-id,sys-pat&_type=Patient'))).toEqual(['Patient/shared-id', 'Patient/sys-pat']);
  });

  it('refuses an unknown _type (400)', async () => {
    await expectBadRequest(server, '/fhir?_type=Patient,Nonsense&name=smith');
  });

  it('ignores, with a warning, a parameter that not every searched type defines; strict refuses it', async () => {
    const lenient = await searchOk(server, '/fhir?_id=shared-id&name=nobody');
    expect(matches(lenient)).toEqual(['Organization/shared-id', 'Patient/shared-id', 'Practitioner/shared-id']);
    expect(outcomeEntry(lenient)?.issue[0].severity).toBe('warning');
    await expectBadRequest(server, '/fhir?_id=shared-id&name=nobody', STRICT);
    await expectBadRequest(server, '/fhir?_type=Patient,Organization&family=smith', STRICT);
  });

  it('links to [base]?... for a system search', async () => {
    const response = await searchOk(server, '/fhir?_id=shared-id');
    expect(response.body.link.find((l: { relation: string }) => l.relation === 'self').url).toBe('http://fhir.test/fhir?_id=shared-id');
  });

  it('pages a system search in order, by type then id', async () => {
    const { app } = server;
    const first = await searchOk(server, '/fhir?_id=shared-id&_count=2');
    expect(matches(first)).toEqual(['Organization/shared-id', 'Patient/shared-id']);
    const second = await fhirRequest(app, 'GET', link(first, 'next') as string);
    expect(matches(second)).toEqual(['Practitioner/shared-id']);
  });
});

describe('POST [type]/_search', () => {
  const form = (server: TestServer, url: string, body: string): Promise<FhirTestResponse> =>
    fhirRequest(server.app, 'POST', url, body, { 'content-type': 'application/x-www-form-urlencoded' });

  it('gives the same results as GET', async () => {
    const post = await form(server, '/fhir/Patient/_search', 'name=smith&_sort=-_id');
    expect(post.status, post.text).toBe(200);
    const get = await searchOk(server, '/fhir/Patient?name=smith&_sort=-_id');
    expect(matches(post)).toEqual(['Patient/sys-pat-2', 'Patient/sys-pat']);
    expect(matches(post)).toEqual(matches(get));
    expect(post.body.total).toBe(get.body.total);
  });

  it('merges the query string and the form body', async () => {
    const post = await form(server, '/fhir/Patient/_search?gender=female', 'name=smith');
    expect(post.status, post.text).toBe(200);
    expect(matches(post)).toEqual(['Patient/sys-pat-2']);
  });

  it('pages with links that a GET can follow', async () => {
    const post = await form(server, '/fhir/Patient/_search', 'name=smith&_count=1');
    expect(matches(post)).toEqual(['Patient/sys-pat']);
    const next = link(post, 'next') as string;
    expect(next).toMatch(/^\/fhir\/Patient\?/);
    expect(matches(await searchOk(server, next))).toEqual(['Patient/sys-pat-2']);
  });

  it('searches the system by POST [base]/_search', async () => {
    const post = await form(server, '/fhir/_search', '_type=Patient,Practitioner&name=smith');
    expect(post.status, post.text).toBe(200);
    expect(matches(post)).toEqual(['Patient/sys-pat', 'Patient/sys-pat-2', 'Practitioner/sys-pr']);
  });

  it('takes only a form body (415 for a JSON one)', async () => {
    const response = await fhirRequest(server.app, 'POST', '/fhir/Patient/_search', { name: 'smith' });
    expect(response.status, response.text).toBe(415);
  });
});
