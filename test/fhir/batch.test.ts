import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/test-server.js';
import {
  bundle,
  IDENTIFIER_SYSTEM,
  observation,
  outcomeText,
  patient,
  postBundle,
  readResource,
  referenceOf,
  rowCounts,
  seed,
  uniqueValue,
  type RequestEntry,
} from './bundle-support.js';

/** Batch Bundles: each entry on its own, with its own outcome (http.html#transaction, bundle.html#batch). */

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
});

const batch = (entries: RequestEntry[]) => bundle('batch', entries);

describe('batch', () => {
  it('processes entries independently: failures get their own status and outcome, the others are stored', async () => {
    const existing = await seed(server, patient());
    const id = existing.split('/')[1];
    const before = await rowCounts(server);
    const response = await postBundle(
      server,
      batch([
        { resource: patient({ gender: 'female' }), request: { method: 'POST', url: 'Patient' } },
        { resource: patient({ birthDate: 'x' }), request: { method: 'POST', url: 'Patient' } },
        { resource: patient({ id: 'batch-put-1' }), request: { method: 'PUT', url: 'Patient/batch-put-1' } },
        { request: { method: 'GET', url: 'Patient/batch-missing' } },
        { resource: { ...patient({ gender: 'other' }), id }, request: { method: 'PUT', url: existing, ifMatch: 'W/"7"' } },
        { resource: observation({ id: 'batch-mismatch' }), request: { method: 'PUT', url: 'Patient/batch-mismatch' } },
        { request: { method: 'GET', url: existing } },
      ]),
    );
    expect(response.status, response.text).toBe(200);
    expect(response.body.resourceType).toBe('Bundle');
    expect(response.body.type).toBe('batch-response');
    const [created, invalid, putCreated, missing, conflict, mismatch, read] = response.body.entry;
    expect(response.body.entry).toHaveLength(7);

    expect(created.response.status).toBe('201 Created');
    expect(created.response.location).toMatch(/^http:\/\/fhir\.test\/fhir\/Patient\/[A-Za-z0-9\-.]+\/_history\/1$/);
    expect(created.response.etag).toBe('W/"1"');
    expect(created.resource.gender).toBe('female');

    expect(invalid.response.status).toBe('400 Bad Request');
    expect(invalid.resource).toBeUndefined();
    expect(invalid.response.outcome.resourceType).toBe('OperationOutcome');
    expect(invalid.response.outcome.issue[0].severity).toBe('error');
    expect(JSON.stringify(invalid.response.outcome)).toContain('birthDate');

    expect(putCreated.response).toMatchObject({ status: '201 Created', location: 'http://fhir.test/fhir/Patient/batch-put-1/_history/1', etag: 'W/"1"' });

    expect(missing.response.status).toBe('404 Not Found');
    expect(missing.response.outcome.resourceType).toBe('OperationOutcome');
    expect(outcomeText(missing.response.outcome)).toContain('Patient/batch-missing');

    expect(conflict.response.status).toBe('412 Precondition Failed');
    expect(conflict.response.outcome.issue[0].code).toBe('conflict');

    expect(mismatch.response.status).toBe('400 Bad Request');
    expect(mismatch.response.outcome.resourceType).toBe('OperationOutcome');

    expect(read.response.status).toBe('200 OK');
    expect(read.resource).toMatchObject({ resourceType: 'Patient', id, gender: 'male' });

    // Exactly the two successful creates were written; the failures left nothing behind.
    expect(await rowCounts(server)).toEqual({ resource: before.resource + 2, history: before.history + 2 });
    expect((await readResource(server, referenceOf(created.response.location))).status).toBe(200);
    expect((await readResource(server, 'Patient/batch-put-1')).status).toBe(200);
    expect((await readResource(server, existing)).body.meta.versionId).toBe('1');
  });

  it('answers in request order, with updates, deletes, patches and conditional creates', async () => {
    const updated = await seed(server, patient());
    const deleted = await seed(server, observation());
    const patched = await seed(server, patient());
    const value = uniqueValue('batch-ine');
    const matched = await seed(server, patient({ identifier: [{ system: IDENTIFIER_SYSTEM, value }] }));
    const operations = [{ op: 'replace', path: '/gender', value: 'female' }];
    const response = await postBundle(
      server,
      batch([
        { resource: { ...patient({ gender: 'other' }), id: updated.split('/')[1] }, request: { method: 'PUT', url: updated, ifMatch: 'W/"1"' } },
        { request: { method: 'DELETE', url: deleted } },
        {
          resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from(JSON.stringify(operations)).toString('base64') },
          request: { method: 'PATCH', url: patched },
        },
        { resource: patient(), request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${IDENTIFIER_SYSTEM}|${value}` } },
      ]),
    );
    expect(response.status, response.text).toBe(200);
    const [put, del, patch, conditional] = response.body.entry;
    expect(put.response).toMatchObject({ status: '200 OK', etag: 'W/"2"', location: `http://fhir.test/fhir/${updated}/_history/2` });
    expect(del.response.status).toMatch(/^(200 OK|204 No Content)$/);
    expect(patch.response).toMatchObject({ status: '200 OK', etag: 'W/"2"' });
    expect(patch.resource.gender).toBe('female');
    expect(conditional.response.status).toBe('200 OK');
    expect(`Patient/${conditional.resource.id}`).toBe(matched);

    expect((await readResource(server, updated)).body.gender).toBe('other');
    expect((await readResource(server, deleted)).status).toBe(410);
    expect((await readResource(server, patched)).body.gender).toBe('female');
  });

  it('runs the entries in the order given: a GET after a POST sees it', async () => {
    const value = uniqueValue('batch-order');
    const response = await postBundle(
      server,
      batch([
        { resource: patient({ identifier: [{ system: IDENTIFIER_SYSTEM, value }] }), request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: `Patient?identifier=${IDENTIFIER_SYSTEM}|${value}` } },
      ]),
    );
    expect(response.status, response.text).toBe(200);
    const [created, search] = response.body.entry;
    expect(search.resource.type).toBe('searchset');
    expect(search.resource.entry.map((e: { resource: { id: string } }) => e.resource.id)).toEqual([created.resource.id]);
  });

  it('answers a HEAD entry as HEAD is answered: status and ETag, no resource; a missing one keeps its outcome', async () => {
    const created = await postBundle(server, batch([{ resource: patient(), request: { method: 'POST', url: 'Patient' } }]));
    const id = created.body.entry[0].resource.id;
    const response = await postBundle(
      server,
      batch([
        { request: { method: 'HEAD', url: `Patient/${id}` } },
        { request: { method: 'HEAD', url: 'Patient/no-such-patient' } },
      ]),
    );
    expect(response.status, response.text).toBe(200);
    const [found, missing] = response.body.entry;
    expect(found.resource).toBeUndefined();
    expect(found.response).toMatchObject({ status: '200 OK', etag: 'W/"1"' });
    expect(missing.response.status).toBe('404 Not Found');
    expect(missing.response.outcome.resourceType).toBe('OperationOutcome');
  });

  it('leaves the resources out under Prefer: return=minimal, but keeps failures\' outcomes', async () => {
    const response = await postBundle(
      server,
      batch([
        { resource: patient(), request: { method: 'POST', url: 'Patient' } },
        { resource: patient({ birthDate: 'x' }), request: { method: 'POST', url: 'Patient' } },
      ]),
      { prefer: 'return=minimal' },
    );
    expect(response.status, response.text).toBe(200);
    const [created, invalid] = response.body.entry;
    expect(created.resource).toBeUndefined();
    expect(created.response.status).toBe('201 Created');
    expect(created.response.location).toMatch(/\/_history\/1$/);
    expect(invalid.response.status).toBe('400 Bad Request');
    expect(invalid.response.outcome.resourceType).toBe('OperationOutcome');
  });

  it('gives each entry the exact instant of the version it wrote, also without a resource in the answer', async () => {
    const existing = await seed(server, patient());
    const response = await postBundle(
      server,
      batch([
        { resource: patient(), request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'DELETE', url: existing } },
      ]),
      { prefer: 'return=minimal' },
    );
    expect(response.status, response.text).toBe(200);
    const [created, deleted] = response.body.entry;
    const storedInstant = async (reference: string) => {
      const [type, id] = reference.split('/');
      const { rows } = await server.db.query<{ last_updated: Date }>('SELECT last_updated FROM resource WHERE resource_type = $1 AND id = $2', [type, id]);
      return rows[0].last_updated.toISOString();
    };
    expect(created.response.lastModified).toBe(await storedInstant(referenceOf(created.response.location)));
    expect(deleted.response.lastModified).toBe(await storedInstant(existing));
  });

  it('a batch whose every entry fails still answers 200 with a batch-response and writes nothing', async () => {
    const before = await rowCounts(server);
    const response = await postBundle(
      server,
      batch([
        { resource: patient({ birthDate: 'x' }), request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: 'NotAType/1' } },
        { request: { method: 'POST', url: 'Patient' } },
      ]),
    );
    expect(response.status, response.text).toBe(200);
    expect(response.body.type).toBe('batch-response');
    expect(response.body.entry.map((e: { response: { status: string } }) => e.response.status)).toEqual([
      '400 Bad Request',
      '404 Not Found',
      '400 Bad Request',
    ]);
    for (const entry of response.body.entry) expect(entry.response.outcome.resourceType).toBe('OperationOutcome');
    expect(await rowCounts(server)).toEqual(before);
  });

  it('an empty batch answers an empty batch-response', async () => {
    const response = await postBundle(server, { resourceType: 'Bundle', type: 'batch', entry: [] });
    expect(response.status, response.text).toBe(200);
    expect(response.body.type).toBe('batch-response');
    expect(response.body.entry ?? []).toEqual([]);
  });

  it('a batch with an entry without request is malformed: 400, and nothing is processed', async () => {
    const before = await rowCounts(server);
    const response = await postBundle(
      server,
      batch([{ resource: patient(), request: { method: 'POST', url: 'Patient' } }, { resource: patient() } as RequestEntry]),
    );
    expect(response.status, response.text).toBe(400);
    expect(response.body.resourceType).toBe('OperationOutcome');
    expect(outcomeText(response.body)).toContain('Bundle.entry[1]');
    expect(await rowCounts(server)).toEqual(before);
  });

  it('takes entry URLs relative or absolute on this server; one on another server makes the batch malformed: 400, nothing processed', async () => {
    const before = await rowCounts(server);
    const response = await postBundle(
      server,
      batch([
        { resource: patient(), request: { method: 'POST', url: 'http://fhir.test/fhir/Patient' } },
        { resource: patient(), request: { method: 'POST', url: 'http://other.example/fhir/Patient' } },
      ]),
    );
    expect(response.status, response.text).toBe(400);
    expect(outcomeText(response.body)).toContain('Bundle.entry[1].request.url "http://other.example/fhir/Patient" is on another server');
    expect(await rowCounts(server)).toEqual(before);
    const ours = await postBundle(server, batch([{ resource: patient(), request: { method: 'POST', url: 'http://fhir.test/fhir/Patient' } }]));
    expect(ours.body.entry[0].response.status).toBe('201 Created');
  });
});
