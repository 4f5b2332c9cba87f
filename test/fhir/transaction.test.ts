import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, startTestServer, type TestServer } from '../support/test-server.js';
import {
  bundle,
  expectOutcome,
  IDENTIFIER_SYSTEM,
  observation,
  patient,
  postBundle,
  readResource,
  referenceOf,
  rowCounts,
  seed,
  uniqueValue,
  type RequestEntry,
} from './bundle-support.js';

/** Transaction Bundles: http.html#transaction, bundle.html#transaction (FHIR R4). */

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
});

const transaction = (entries: RequestEntry[]) => bundle('transaction', entries);
const uuid = () => `urn:uuid:${crypto.randomUUID()}`;
const identifier = (value: string) => [{ system: IDENTIFIER_SYSTEM, value }];

/** Posts a transaction that must fail and asserts that it changed nothing at all. */
async function expectRejected(entries: RequestEntry[], status: number, mentions: string | RegExp) {
  const before = await rowCounts(server);
  const response = await postBundle(server, transaction(entries));
  expectOutcome(response, status, mentions);
  expect(await rowCounts(server)).toEqual(before);
  return response;
}

describe('a transaction is all or nothing', () => {
  it('rejects the whole Bundle when one resource is invalid, naming the entry', async () => {
    const response = await expectRejected(
      [
        { fullUrl: uuid(), resource: patient(), request: { method: 'POST', url: 'Patient' } },
        { resource: patient({ id: 'tx-aon-1' }), request: { method: 'PUT', url: 'Patient/tx-aon-1' } },
        { resource: patient({ birthDate: 'x' }), request: { method: 'POST', url: 'Patient' } },
        { resource: observation(), request: { method: 'POST', url: 'Observation' } },
      ],
      400,
      'Bundle.entry[2]',
    );
    expect(JSON.stringify(response.body)).toContain('birthDate');
    expect((await readResource(server, 'Patient/tx-aon-1')).status).toBe(404);
  });

  it('fails with 412 when an If-Match does not hold, and rolls back the entries already processed', async () => {
    const target = await seed(server, patient());
    const deleted = await seed(server, observation());
    const response = await expectRejected(
      [
        { resource: patient(), request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'DELETE', url: deleted } },
        { resource: { ...patient({ gender: 'female' }), id: target.split('/')[1] }, request: { method: 'PUT', url: target, ifMatch: 'W/"3"' } },
      ],
      412,
      'Bundle.entry[2]',
    );
    expect(response.body.issue[0].code).toBe('conflict');
    const current = await readResource(server, target);
    expect(current.body.gender).toBe('male');
    expect(current.body.meta.versionId).toBe('1');
    expect((await readResource(server, deleted)).status).toBe(200);
  });

  it('fails when a PUT entry carries a resource of another type than its URL', async () => {
    await expectRejected(
      [
        { resource: patient(), request: { method: 'POST', url: 'Patient' } },
        { resource: observation({ id: 'tx-mismatch' }), request: { method: 'PUT', url: 'Patient/tx-mismatch' } },
      ],
      400,
      'Bundle.entry[1]',
    );
  });

  it('fails when a PUT entry body id differs from its URL', async () => {
    await expectRejected([{ resource: patient({ id: 'other' }), request: { method: 'PUT', url: 'Patient/tx-idm' } }], 400, 'Bundle.entry[0]');
  });

  it('fails when a read entry fails (404), and nothing of the other entries is kept', async () => {
    await expectRejected(
      [
        { resource: patient(), request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: 'Patient/does-not-exist' } },
      ],
      404,
      'Bundle.entry[1]',
    );
  });

  it('fails when an entry names an unknown resource type', async () => {
    await expectRejected(
      [
        { resource: patient(), request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: 'NotAType/1' } },
      ],
      404,
      'Bundle.entry[1]',
    );
    const response = await expectRejected(
      [
        { resource: patient(), request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'NotAType' }, request: { method: 'POST', url: 'NotAType' } },
      ],
      404,
      'Bundle.entry[1]',
    );
    expect(JSON.stringify(response.body)).toContain('NotAType');
  });

  it('fails when a PATCH entry targets a resource that does not exist', async () => {
    await expectRejected(
      [
        { resource: patient(), request: { method: 'POST', url: 'Patient' } },
        {
          resource: { resourceType: 'Parameters', parameter: [] },
          request: { method: 'PATCH', url: 'Patient/tx-patch-missing' },
        },
      ],
      404,
      'Bundle.entry[1]',
    );
  });
});

describe('processing order: DELETE, POST, PUT/PATCH, GET (http.html#trules)', () => {
  it('a GET entry placed first sees the resource a later POST entry creates', async () => {
    const value = uniqueValue('order-get');
    const response = await postBundle(
      server,
      transaction([
        { request: { method: 'GET', url: `Patient?identifier=${IDENTIFIER_SYSTEM}|${value}` } },
        { fullUrl: uuid(), resource: patient({ identifier: identifier(value) }), request: { method: 'POST', url: 'Patient' } },
      ]),
    );
    expect(response.status, response.text).toBe(200);
    const [search, created] = response.body.entry;
    expect(search.response.status).toBe('200 OK');
    expect(search.resource.resourceType).toBe('Bundle');
    expect(search.resource.entry).toHaveLength(1);
    expect(search.resource.entry[0].resource.id).toBe(created.resource.id);
  });

  it('a GET entry placed before a PUT entry reads the updated version', async () => {
    const target = await seed(server, patient());
    const id = target.split('/')[1];
    const response = await postBundle(
      server,
      transaction([
        { request: { method: 'GET', url: target } },
        { resource: { ...patient({ gender: 'female' }), id }, request: { method: 'PUT', url: target } },
      ]),
    );
    expect(response.status, response.text).toBe(200);
    const [read, updated] = response.body.entry;
    expect(updated.response.etag).toBe('W/"2"');
    expect(read.resource.gender).toBe('female');
    expect(read.resource.meta.versionId).toBe('2');
  });

  it('a DELETE entry placed last runs first: a GET placed first no longer finds what it deleted', async () => {
    const doomed = await seed(server, observation());
    const kept = await seed(server, patient());
    const response = await postBundle(
      server,
      transaction([
        { request: { method: 'GET', url: `${doomed.split('/')[0]}?_id=${doomed.split('/')[1]}` } },
        {
          resource: {
            resourceType: 'Parameters',
            parameter: [{ name: 'operation', part: [{ name: 'type', valueCode: 'replace' }, { name: 'path', valueString: 'Patient.gender' }, { name: 'value', valueCode: 'other' }] }],
          },
          request: { method: 'PATCH', url: kept },
        },
        { request: { method: 'DELETE', url: doomed } },
      ]),
    );
    expect(response.status, response.text).toBe(200);
    const [search, patched, deleted] = response.body.entry;
    expect(search.resource.entry ?? []).toHaveLength(0);
    expect(patched.response.status).toBe('200 OK');
    expect(deleted.response.status).toMatch(/^(200 OK|204 No Content)$/);
    expect((await readResource(server, doomed)).status).toBe(410);
    expect((await readResource(server, kept)).body.gender).toBe('other');
  });

  it('a DELETE runs before a conditional create, so the create does not match the deleted resource', async () => {
    const value = uniqueValue('order-delete');
    const old = await seed(server, patient({ identifier: identifier(value) }));
    const response = await postBundle(
      server,
      transaction([
        {
          fullUrl: uuid(),
          resource: patient({ identifier: identifier(value), gender: 'female' }),
          request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${IDENTIFIER_SYSTEM}|${value}` },
        },
        { request: { method: 'DELETE', url: old } },
      ]),
    );
    expect(response.status, response.text).toBe(200);
    const [created, deleted] = response.body.entry;
    expect(created.response.status).toBe('201 Created');
    expect(referenceOf(created.response.location)).not.toBe(old);
    expect(deleted.response.status).toMatch(/^(200 OK|204 No Content)$/);
    expect((await readResource(server, old)).status).toBe(410);
  });
});

describe('urn:uuid fullUrls are replaced by the new identities everywhere (http.html#trules)', () => {
  it('rewrites references in nested elements, extensions, contained resources, uri elements and the narrative', async () => {
    const patientUrl = uuid();
    const practitionerUrl = uuid();
    const encounterUrl = uuid();
    const response = await postBundle(
      server,
      transaction([
        {
          fullUrl: uuid(),
          resource: observation({
            text: {
              status: 'generated',
              div: `<div xmlns="http://www.w3.org/1999/xhtml"><a href="${patientUrl}">the patient</a> seen by <a href='${practitionerUrl}'>them</a></div>`,
            },
            contained: [{ resourceType: 'RelatedPerson', id: 'rp1', patient: { reference: patientUrl } }],
            extension: [
              { url: 'http://example.org/fhir/StructureDefinition/about', valueReference: { reference: patientUrl, display: 'P' } },
              { url: 'http://example.org/fhir/StructureDefinition/source', valueUri: encounterUrl },
              {
                url: 'http://example.org/fhir/StructureDefinition/complex',
                extension: [{ url: 'who', valueReference: { reference: practitionerUrl } }],
              },
            ],
            subject: { reference: patientUrl },
            encounter: { reference: encounterUrl },
            performer: [{ reference: practitionerUrl }, { reference: '#rp1' }],
            note: [{ text: `not a reference: ${patientUrl}` }],
          }),
          request: { method: 'POST', url: 'Observation' },
        },
        {
          fullUrl: encounterUrl,
          resource: {
            resourceType: 'Encounter',
            status: 'finished',
            class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
            subject: { reference: patientUrl },
            participant: [{ individual: { reference: practitionerUrl } }],
          },
          request: { method: 'POST', url: 'Encounter' },
        },
        { fullUrl: practitionerUrl, resource: { resourceType: 'Practitioner', name: [{ family: 'Who' }] }, request: { method: 'POST', url: 'Practitioner' } },
        { fullUrl: patientUrl, resource: patient(), request: { method: 'POST', url: 'Patient' } },
      ]),
    );
    expect(response.status, response.text).toBe(200);
    const [obsEntry, encEntry, practEntry, patEntry] = response.body.entry;
    const patientRef = referenceOf(patEntry.response.location);
    const practitionerRef = referenceOf(practEntry.response.location);
    const encounterRef = referenceOf(encEntry.response.location);
    expect(patientRef).toMatch(/^Patient\//);
    expect(practitionerRef).toMatch(/^Practitioner\//);

    const obs = (await readResource(server, referenceOf(obsEntry.response.location))).body;
    expect(obs.subject.reference).toBe(patientRef);
    expect(obs.encounter.reference).toBe(encounterRef);
    expect(obs.performer).toEqual([{ reference: practitionerRef }, { reference: '#rp1' }]);
    expect(obs.contained[0].patient.reference).toBe(patientRef);
    expect(obs.extension[0].valueReference).toEqual({ reference: patientRef, display: 'P' });
    expect(obs.extension[1].valueUri).toBe(encounterRef);
    expect(obs.extension[2].extension[0].valueReference.reference).toBe(practitionerRef);
    expect(obs.text.div).toContain(`href="${patientRef}"`);
    expect(obs.text.div).toContain(`href='${practitionerRef}'`);
    expect(obs.text.div).not.toContain('urn:uuid');
    // Only whole values equal to a fullUrl are identities; text that merely contains one is left alone.
    expect(obs.note[0].text).toBe(`not a reference: ${patientUrl}`);

    const encounter = (await readResource(server, encounterRef)).body;
    expect(encounter.subject.reference).toBe(patientRef);
    expect(encounter.participant[0].individual.reference).toBe(practitionerRef);
    // The responses carry the stored, rewritten resources too.
    expect(obsEntry.resource.subject.reference).toBe(patientRef);
  });

  it('gives a PUT entry with a urn:uuid fullUrl the identity of its URL', async () => {
    const patientUrl = uuid();
    const response = await postBundle(
      server,
      transaction([
        { fullUrl: uuid(), resource: observation({ subject: { reference: patientUrl } }), request: { method: 'POST', url: 'Observation' } },
        { fullUrl: patientUrl, resource: patient({ id: 'tx-put-123' }), request: { method: 'PUT', url: 'Patient/tx-put-123' } },
      ]),
    );
    expect(response.status, response.text).toBe(200);
    const [obsEntry, patEntry] = response.body.entry;
    expect(patEntry.response.status).toBe('201 Created');
    expect(patEntry.response.location).toBe('http://fhir.test/fhir/Patient/tx-put-123/_history/1');
    expect(obsEntry.resource.subject.reference).toBe('Patient/tx-put-123');
    const obs = (await readResource(server, referenceOf(obsEntry.response.location))).body;
    expect(obs.subject.reference).toBe('Patient/tx-put-123');
  });

  it('fails when a reference is a urn:uuid that is the fullUrl of no entry: 400 naming it, nothing stored', async () => {
    const dangling = uuid();
    const response = await expectRejected(
      [
        { fullUrl: uuid(), resource: patient(), request: { method: 'POST', url: 'Patient' } },
        { fullUrl: uuid(), resource: observation({ subject: { reference: dangling } }), request: { method: 'POST', url: 'Observation' } },
      ],
      400,
      'Bundle.entry[1]',
    );
    expect(JSON.stringify(response.body)).toContain(dangling);
  });

  it('ignores the id a POST entry carries and assigns a new one', async () => {
    const response = await postBundle(
      server,
      transaction([{ fullUrl: 'urn:uuid:6f1f0c5e-0000-4000-8000-000000000001', resource: patient({ id: 'client-chosen' }), request: { method: 'POST', url: 'Patient' } }]),
    );
    expect(response.status, response.text).toBe(200);
    const ref = referenceOf(response.body.entry[0].response.location);
    expect(ref).not.toBe('Patient/client-chosen');
    expect(response.body.entry[0].resource.id).toBe(ref.split('/')[1]);
    expect((await readResource(server, 'Patient/client-chosen')).status).toBe(404);
  });
});

describe('conditional entries', () => {
  it('ifNoneExist without a match creates the resource', async () => {
    const value = uniqueValue('ine-0');
    const response = await postBundle(
      server,
      transaction([
        {
          fullUrl: uuid(),
          resource: patient({ identifier: identifier(value) }),
          request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${IDENTIFIER_SYSTEM}|${value}` },
        },
      ]),
    );
    expect(response.status, response.text).toBe(200);
    expect(response.body.entry[0].response.status).toBe('201 Created');
    const { rows } = await server.db.query("SELECT id FROM resource WHERE resource_type = 'Patient' AND content -> 'identifier' @> $1::jsonb", [
      JSON.stringify([{ value }]),
    ]);
    expect(rows).toHaveLength(1);
  });

  it('ifNoneExist with one match creates nothing, answers 200 with the match, and references point to it', async () => {
    const value = uniqueValue('ine-1');
    const existing = await seed(server, patient({ identifier: identifier(value) }));
    const patientUrl = uuid();
    const before = await rowCounts(server);
    const response = await postBundle(
      server,
      transaction([
        { fullUrl: uuid(), resource: observation({ subject: { reference: patientUrl } }), request: { method: 'POST', url: 'Observation' } },
        {
          fullUrl: patientUrl,
          resource: patient({ identifier: identifier(value), gender: 'female' }),
          request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${IDENTIFIER_SYSTEM}|${value}` },
        },
      ]),
    );
    expect(response.status, response.text).toBe(200);
    const [obsEntry, patEntry] = response.body.entry;
    expect(patEntry.response.status).toBe('200 OK');
    expect(`Patient/${patEntry.resource.id}`).toBe(existing);
    expect(patEntry.resource.gender).toBe('male');
    expect(obsEntry.resource.subject.reference).toBe(existing);
    expect(await rowCounts(server)).toEqual({ resource: before.resource + 1, history: before.history + 1 });
  });

  it('ifNoneExist with several matches fails the transaction', async () => {
    const value = uniqueValue('ine-2');
    await seed(server, patient({ identifier: identifier(value) }));
    await seed(server, patient({ identifier: identifier(value) }));
    await expectRejected(
      [
        { resource: observation(), request: { method: 'POST', url: 'Observation' } },
        { fullUrl: uuid(), resource: patient(), request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${IDENTIFIER_SYSTEM}|${value}` } },
      ],
      412,
      'Bundle.entry[1]',
    );
  });

  it('ifMatch with the current version updates', async () => {
    const target = await seed(server, patient());
    const response = await postBundle(
      server,
      transaction([{ resource: { ...patient({ gender: 'female' }), id: target.split('/')[1] }, request: { method: 'PUT', url: target, ifMatch: 'W/"1"' } }]),
    );
    expect(response.status, response.text).toBe(200);
    expect(response.body.entry[0].response.status).toBe('200 OK');
    expect(response.body.entry[0].response.etag).toBe('W/"2"');
  });

  it('a conditional PUT without a match creates, with one match updates that resource; references follow', async () => {
    const value = uniqueValue('cput');
    const firstUrl = uuid();
    const first = await postBundle(
      server,
      transaction([
        { fullUrl: firstUrl, resource: patient({ identifier: identifier(value) }), request: { method: 'PUT', url: `Patient?identifier=${IDENTIFIER_SYSTEM}|${value}` } },
        { fullUrl: uuid(), resource: observation({ subject: { reference: firstUrl } }), request: { method: 'POST', url: 'Observation' } },
      ]),
    );
    expect(first.status, first.text).toBe(200);
    expect(first.body.entry[0].response.status).toBe('201 Created');
    const created = referenceOf(first.body.entry[0].response.location);
    expect(first.body.entry[1].resource.subject.reference).toBe(created);

    const secondUrl = uuid();
    const second = await postBundle(
      server,
      transaction([
        { fullUrl: uuid(), resource: observation({ subject: { reference: secondUrl } }), request: { method: 'POST', url: 'Observation' } },
        {
          fullUrl: secondUrl,
          resource: patient({ identifier: identifier(value), gender: 'female' }),
          request: { method: 'PUT', url: `Patient?identifier=${IDENTIFIER_SYSTEM}|${value}` },
        },
      ]),
    );
    expect(second.status, second.text).toBe(200);
    expect(second.body.entry[1].response.status).toBe('200 OK');
    expect(second.body.entry[1].response.location).toBe(`http://fhir.test/fhir/${created}/_history/2`);
    expect(second.body.entry[0].resource.subject.reference).toBe(created);
    expect((await readResource(server, created)).body.gender).toBe('female');
  });

  it('a conditional PUT with several matches fails the transaction', async () => {
    const value = uniqueValue('cput-many');
    await seed(server, patient({ identifier: identifier(value) }));
    await seed(server, patient({ identifier: identifier(value) }));
    await expectRejected(
      [
        { resource: observation(), request: { method: 'POST', url: 'Observation' } },
        { resource: patient(), request: { method: 'PUT', url: `Patient?identifier=${IDENTIFIER_SYSTEM}|${value}` } },
      ],
      412,
      'Bundle.entry[1]',
    );
  });

  it('resolves a conditional reference to the one resource it matches', async () => {
    const value = uniqueValue('cref');
    const target = await seed(server, patient({ identifier: identifier(value) }));
    const conditional = `Patient?identifier=${IDENTIFIER_SYSTEM}|${value}`;
    const response = await postBundle(
      server,
      transaction([
        {
          resource: observation({ subject: { reference: conditional }, extension: [{ url: 'http://example.org/x', valueReference: { reference: conditional } }] }),
          request: { method: 'POST', url: 'Observation' },
        },
      ]),
    );
    expect(response.status, response.text).toBe(200);
    const obs = (await readResource(server, referenceOf(response.body.entry[0].response.location))).body;
    expect(obs.subject.reference).toBe(target);
    expect(obs.extension[0].valueReference.reference).toBe(target);
  });

  it('fails when a conditional reference matches nothing, naming the entry', async () => {
    const response = await expectRejected(
      [
        { resource: patient(), request: { method: 'POST', url: 'Patient' } },
        {
          resource: observation({ subject: { reference: `Patient?identifier=${IDENTIFIER_SYSTEM}|${uniqueValue('cref-none')}` } }),
          request: { method: 'POST', url: 'Observation' },
        },
      ],
      412,
      'Bundle.entry[1]',
    );
    expect(JSON.stringify(response.body)).not.toMatch(/more than one/i);
  });

  it('fails when a conditional reference matches several resources', async () => {
    const value = uniqueValue('cref-many');
    await seed(server, patient({ identifier: identifier(value) }));
    await seed(server, patient({ identifier: identifier(value) }));
    await expectRejected(
      [{ resource: observation({ subject: { reference: `Patient?identifier=${IDENTIFIER_SYSTEM}|${value}` } }), request: { method: 'POST', url: 'Observation' } }],
      412,
      'Bundle.entry[0]',
    );
  });
});

describe('the transaction-response Bundle (bundle.html#transaction-response)', () => {
  it('answers one entry per request entry, in request order, with status, location, etag and lastModified', async () => {
    const existing = await seed(server, patient());
    const id = existing.split('/')[1];
    const before = Date.now();
    const response = await postBundle(
      server,
      transaction([
        { resource: { ...patient({ gender: 'female' }), id }, request: { method: 'PUT', url: existing } },
        { fullUrl: uuid(), resource: observation(), request: { method: 'POST', url: 'Observation' } },
        { resource: patient({ id: 'tx-resp-put' }), request: { method: 'PUT', url: 'Patient/tx-resp-put' } },
        { request: { method: 'GET', url: existing } },
      ]),
    );
    expect(response.status, response.text).toBe(200);
    expect(String(response.headers['content-type'])).toMatch(/^application\/fhir\+json/);
    expect(response.body.resourceType).toBe('Bundle');
    expect(response.body.type).toBe('transaction-response');
    const [updated, created, putCreated, read] = response.body.entry;
    expect(response.body.entry).toHaveLength(4);

    expect(updated.response).toMatchObject({ status: '200 OK', location: `http://fhir.test/fhir/${existing}/_history/2`, etag: 'W/"2"' });
    expect(updated.resource).toMatchObject({ resourceType: 'Patient', id, gender: 'female', meta: { versionId: '2' } });

    expect(created.response.status).toBe('201 Created');
    expect(created.response.location).toMatch(/^http:\/\/fhir\.test\/fhir\/Observation\/[A-Za-z0-9\-.]{1,64}\/_history\/1$/);
    expect(created.response.etag).toBe('W/"1"');
    expect(created.fullUrl).toBe(created.response.location.replace(/\/_history\/1$/, ''));
    expect(created.resource).toMatchObject({ resourceType: 'Observation', meta: { versionId: '1' } });
    expect(created.resource.id).toBe(referenceOf(created.response.location).split('/')[1]);
    const lastModified = Date.parse(created.response.lastModified);
    expect(lastModified).toBeGreaterThanOrEqual(before - 1000);
    expect(lastModified).toBeLessThanOrEqual(Date.now() + 1000);
    expect(created.response.lastModified).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
    // Exactly the stored version's instant, not the whole seconds of the HTTP Last-Modified header.
    expect(created.response.lastModified).toBe(created.resource.meta.lastUpdated);
    expect(updated.response.lastModified).toBe(updated.resource.meta.lastUpdated);
    expect(read.response.lastModified).toBe(read.resource.meta.lastUpdated);

    expect(putCreated.response).toMatchObject({ status: '201 Created', location: 'http://fhir.test/fhir/Patient/tx-resp-put/_history/1', etag: 'W/"1"' });
    expect(read.response.status).toBe('200 OK');
    expect(read.resource.gender).toBe('female');
  });

  it('leaves the resources out under Prefer: return=minimal', async () => {
    const response = await postBundle(
      server,
      transaction([
        { fullUrl: uuid(), resource: patient(), request: { method: 'POST', url: 'Patient' } },
        { resource: patient({ id: 'tx-minimal' }), request: { method: 'PUT', url: 'Patient/tx-minimal' } },
      ]),
      { prefer: 'return=minimal' },
    );
    expect(response.status, response.text).toBe(200);
    for (const entry of response.body.entry) {
      expect(entry.resource).toBeUndefined();
      expect(entry.response.status).toBe('201 Created');
      expect(entry.response.location).toMatch(/\/_history\/1$/);
      expect(entry.response.etag).toBe('W/"1"');
    }
  });

  it('an empty transaction answers an empty transaction-response', async () => {
    const response = await postBundle(server, { resourceType: 'Bundle', type: 'transaction' });
    expect(response.status, response.text).toBe(200);
    expect(response.body.type).toBe('transaction-response');
    expect(response.body.entry ?? []).toEqual([]);
  });
});

describe('PATCH entries', () => {
  it('applies a JSON Patch sent as a Binary, with references to other entries rewritten', async () => {
    const target = await seed(server, patient());
    const practitionerUrl = uuid();
    const operations = [
      { op: 'replace', path: '/gender', value: 'female' },
      { op: 'add', path: '/generalPractitioner', value: [{ reference: practitionerUrl }] },
    ];
    const response = await postBundle(
      server,
      transaction([
        {
          resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from(JSON.stringify(operations)).toString('base64') },
          request: { method: 'PATCH', url: target },
        },
        { fullUrl: practitionerUrl, resource: { resourceType: 'Practitioner', name: [{ family: 'GP' }] }, request: { method: 'POST', url: 'Practitioner' } },
      ]),
    );
    expect(response.status, response.text).toBe(200);
    const [patched, practitioner] = response.body.entry;
    expect(patched.response).toMatchObject({ status: '200 OK', etag: 'W/"2"', location: `http://fhir.test/fhir/${target}/_history/2` });
    const stored = (await readResource(server, target)).body;
    expect(stored.gender).toBe('female');
    expect(stored.generalPractitioner).toEqual([{ reference: referenceOf(practitioner.response.location) }]);
  });

  it('applies a FHIRPath Patch sent as Parameters', async () => {
    const target = await seed(server, patient());
    const response = await postBundle(
      server,
      transaction([
        {
          resource: {
            resourceType: 'Parameters',
            parameter: [
              { name: 'operation', part: [{ name: 'type', valueCode: 'replace' }, { name: 'path', valueString: 'Patient.birthDate' }, { name: 'value', valueDate: '1980-01-02' }] },
              { name: 'operation', part: [{ name: 'type', valueCode: 'add' }, { name: 'path', valueString: 'Patient' }, { name: 'name', valueString: 'active' }, { name: 'value', valueBoolean: true }] },
            ],
          },
          request: { method: 'PATCH', url: target },
        },
      ]),
    );
    expect(response.status, response.text).toBe(200);
    expect(response.body.entry[0].response.status).toBe('200 OK');
    const stored = (await readResource(server, target)).body;
    expect(stored.birthDate).toBe('1980-01-02');
    expect(stored.active).toBe(true);
    expect(stored.meta.versionId).toBe('2');
  });

  it('a Binary that is not base64 JSON fails the transaction', async () => {
    const target = await seed(server, patient());
    await expectRejected(
      [
        { resource: patient(), request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from('not json').toString('base64') }, request: { method: 'PATCH', url: target } },
      ],
      400,
      'Bundle.entry[1]',
    );
  });

  it('a patch that makes the resource invalid fails the transaction', async () => {
    const target = await seed(server, patient());
    const operations = [{ op: 'replace', path: '/birthDate', value: 'x' }];
    await expectRejected(
      [
        { resource: patient(), request: { method: 'POST', url: 'Patient' } },
        {
          resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from(JSON.stringify(operations)).toString('base64') },
          request: { method: 'PATCH', url: target },
        },
      ],
      400,
      'Bundle.entry[1]',
    );
  });
});

describe('malformed Bundles are 400 with an OperationOutcome', () => {
  it.each([
    ['a resource that is not a Bundle', patient()],
    ['a Bundle of type collection', { resourceType: 'Bundle', type: 'collection', entry: [{ resource: patient() }] }],
    ['a Bundle of type transaction-response', { resourceType: 'Bundle', type: 'transaction-response', entry: [] }],
    ['a Bundle without a type', { resourceType: 'Bundle', entry: [{ resource: patient(), request: { method: 'POST', url: 'Patient' } }] }],
    ['entry that is not an array', { resourceType: 'Bundle', type: 'transaction', entry: { resource: patient() } }],
  ])('%s', async (_name, body) => {
    const before = await rowCounts(server);
    const response = await postBundle(server, body);
    expect(response.status, response.text).toBe(400);
    expect(response.body.resourceType).toBe('OperationOutcome');
    expect(await rowCounts(server)).toEqual(before);
  });

  it.each([
    ['an entry without request', { resource: patient() }],
    ['an entry without request.method', { resource: patient(), request: { url: 'Patient' } }],
    ['an entry with an unknown method', { resource: patient(), request: { method: 'FETCH', url: 'Patient' } }],
    ['an entry without request.url', { resource: patient(), request: { method: 'POST' } }],
  ])('%s, naming the entry', async (_name, bad) => {
    await expectRejected([{ resource: patient(), request: { method: 'POST', url: 'Patient' } }, bad as RequestEntry], 400, 'Bundle.entry[1]');
  });

  it('a POST entry without a resource', async () => {
    await expectRejected([{ request: { method: 'POST', url: 'Patient' } }], 400, 'Bundle.entry[0]');
  });

  it('a POST entry whose resource is of another type than the URL', async () => {
    await expectRejected([{ resource: observation(), request: { method: 'POST', url: 'Patient' } }], 400, 'Bundle.entry[0]');
  });

  it('a body that is not JSON', async () => {
    const response = await fhirRequest(server.app, 'POST', '/fhir', '{"resourceType": "Bundle",', { 'content-type': 'application/fhir+json' });
    expect(response.status).toBe(400);
    expect(response.body.resourceType).toBe('OperationOutcome');
  });
});

describe('two entries changing the same resource (http.html#trules)', () => {
  it('two PUTs of the same id are 400', async () => {
    await expectRejected(
      [
        { resource: patient({ id: 'tx-dup' }), request: { method: 'PUT', url: 'Patient/tx-dup' } },
        { resource: patient({ id: 'tx-dup', gender: 'female' }), request: { method: 'PUT', url: 'Patient/tx-dup' } },
      ],
      400,
      'Patient/tx-dup',
    );
  });

  it('a DELETE and a PATCH of the same resource are 400', async () => {
    const target = await seed(server, patient());
    await expectRejected(
      [
        { request: { method: 'DELETE', url: target } },
        { resource: { resourceType: 'Parameters', parameter: [] }, request: { method: 'PATCH', url: target } },
      ],
      400,
      target,
    );
    expect((await readResource(server, target)).status).toBe(200);
  });

  it('a conditional PUT that resolves to a resource another entry also changes is 400', async () => {
    const value = uniqueValue('dup-cond');
    const target = await seed(server, patient({ identifier: identifier(value) }));
    const id = target.split('/')[1];
    await expectRejected(
      [
        { resource: patient({ identifier: identifier(value), gender: 'female' }), request: { method: 'PUT', url: `Patient?identifier=${IDENTIFIER_SYSTEM}|${value}` } },
        { resource: patient({ id, identifier: identifier(value), gender: 'other' }), request: { method: 'PUT', url: target } },
      ],
      400,
      target,
    );
    expect((await readResource(server, target)).body.meta.versionId).toBe('1');
  });

  it('two entries with the same fullUrl are 400', async () => {
    const fullUrl = uuid();
    await expectRejected(
      [
        { fullUrl, resource: patient(), request: { method: 'POST', url: 'Patient' } },
        { fullUrl, resource: patient({ gender: 'female' }), request: { method: 'POST', url: 'Patient' } },
      ],
      400,
      fullUrl,
    );
  });
});
