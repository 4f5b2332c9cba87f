import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { removeStaleSpools } from '../../src/fhir/json-body.js';
import { SpooledBundle } from '../../src/fhir/transaction/bundle-source.js';
import { fhirRequest, startTestServer, type FhirTestResponse, type TestServer } from '../support/test-server.js';
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

/**
 * A large batch or transaction body is spooled to a temporary file and read entry by entry
 * (json-body.ts). The same Bundles, in memory and spooled (a threshold of 0 spools every body),
 * give the same results, and no file is left behind, whatever the outcome.
 */

const BODY_LIMIT = 64 * 1024;
const uuid = () => `urn:uuid:${crypto.randomUUID()}`;
const identifier = (value: string) => [{ system: IDENTIFIER_SYSTEM, value }];
/** POSTs a Bundle to the base as a stream of `size`-byte pieces, without Content-Length (chunked). */
function postInPieces(server: TestServer, bytes: Buffer, size: number) {
  const pieces = Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
  return server.app.inject({
    method: 'POST',
    url: '/fhir',
    headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${server.adminToken}` },
    payload: Readable.from(pieces),
  });
}

/** Called once for each spooled body: which path a request took. */
const spooled = vi.spyOn(SpooledBundle, 'open');

describe.each([
  ['in memory', '4mb'],
  ['spooled', '0'],
])('a Bundle %s', (mode, threshold) => {
  let server: TestServer;
  let spoolDir: string;

  beforeAll(async () => {
    spoolDir = await mkdtemp(path.join(tmpdir(), 'fhir-spool-test-'));
    server = await startTestServer({ BUNDLE_SPOOL_THRESHOLD: threshold, BUNDLE_SPOOL_DIR: spoolDir, BODY_LIMIT: String(BODY_LIMIT) });
  });

  afterAll(async () => {
    await server?.close();
    await rm(spoolDir, { recursive: true, force: true });
  });

  afterEach(async () => {
    expect(await readdir(spoolDir)).toEqual([]);
  });

  /** Posts the Bundle and checks that it took the path of this mode. */
  async function post(body: unknown, headers: Record<string, string> = {}): Promise<FhirTestResponse> {
    spooled.mockClear();
    const response = await postBundle(server, body, headers);
    expect(spooled).toHaveBeenCalledTimes(mode === 'spooled' ? 1 : 0);
    return response;
  }

  async function expectRejected(entries: RequestEntry[], status: number, mentions: string) {
    const before = await rowCounts(server);
    expectOutcome(await post(bundle('transaction', entries)), status, mentions);
    expect(await rowCounts(server)).toEqual(before);
  }

  it('replaces urn:uuid references between entries by the identities they get', async () => {
    const patientUrl = uuid();
    const response = await post(
      bundle('transaction', [
        { fullUrl: uuid(), resource: observation({ subject: { reference: patientUrl } }), request: { method: 'POST', url: 'Observation' } },
        { fullUrl: patientUrl, resource: patient({ name: [{ family: 'Zoë 日本 😀', given: ['"quoted"', 'back\\'] }] }), request: { method: 'POST', url: 'Patient' } },
      ]),
    );
    expect(response.status, response.text).toBe(200);
    const [obsEntry, patEntry] = response.body.entry;
    const patientRef = referenceOf(patEntry.response.location);
    expect((await readResource(server, referenceOf(obsEntry.response.location))).body.subject.reference).toBe(patientRef);
    expect((await readResource(server, patientRef)).body.name[0]).toEqual({ family: 'Zoë 日本 😀', given: ['"quoted"', 'back\\'] });
  });

  it('answers a conditional create with its match, and references follow it', async () => {
    const value = uniqueValue(`spool-ine-${mode}`);
    const existing = await seed(server, patient({ identifier: identifier(value) }));
    const patientUrl = uuid();
    const before = await rowCounts(server);
    const response = await post(
      bundle('transaction', [
        { fullUrl: uuid(), resource: observation({ subject: { reference: patientUrl } }), request: { method: 'POST', url: 'Observation' } },
        {
          fullUrl: patientUrl,
          resource: patient({ identifier: identifier(value) }),
          request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${IDENTIFIER_SYSTEM}|${value}` },
        },
      ]),
    );
    expect(response.status, response.text).toBe(200);
    const [obsEntry, patEntry] = response.body.entry;
    expect(patEntry.response.status).toBe('200 OK');
    expect(`Patient/${patEntry.resource.id}`).toBe(existing);
    expect(obsEntry.resource.subject.reference).toBe(existing);
    expect(await rowCounts(server)).toEqual({ resource: before.resource + 1, history: before.history + 1 });
  });

  it('gives a conditional PUT the id of its match, or the id of its body', async () => {
    const value = uniqueValue(`spool-cput-${mode}`);
    const conditional = `Patient?identifier=${IDENTIFIER_SYSTEM}|${value}`;
    const id = `spool-${mode === 'spooled' ? 's' : 'm'}-${Date.now()}`;
    const patientUrl = uuid();
    const first = await post(
      bundle('transaction', [
        { fullUrl: patientUrl, resource: patient({ id, identifier: identifier(value) }), request: { method: 'PUT', url: conditional } },
        { resource: observation({ subject: { reference: patientUrl } }), request: { method: 'POST', url: 'Observation' } },
      ]),
    );
    expect(first.status, first.text).toBe(200);
    expect(first.body.entry[0].response.location).toBe(`http://fhir.test/fhir/Patient/${id}/_history/1`);
    expect(first.body.entry[1].resource.subject.reference).toBe(`Patient/${id}`);
    const second = await post(bundle('transaction', [{ resource: patient({ identifier: identifier(value), gender: 'female' }), request: { method: 'PUT', url: conditional } }]));
    expect(second.status, second.text).toBe(200);
    expect(second.body.entry[0].response.location).toBe(`http://fhir.test/fhir/Patient/${id}/_history/2`);
    expect((await readResource(server, `Patient/${id}`)).body.gender).toBe('female');
  });

  it('resolves a conditional reference to the one resource it matches', async () => {
    const value = uniqueValue(`spool-cref-${mode}`);
    const target = await seed(server, patient({ identifier: identifier(value) }));
    const response = await post(
      bundle('transaction', [
        { resource: observation({ subject: { reference: `Patient?identifier=${IDENTIFIER_SYSTEM}|${value}` } }), request: { method: 'POST', url: 'Observation' } },
      ]),
    );
    expect(response.status, response.text).toBe(200);
    expect((await readResource(server, referenceOf(response.body.entry[0].response.location))).body.subject.reference).toBe(target);
  });

  it('runs a DELETE placed last first: a GET placed first no longer finds what it deleted', async () => {
    const doomed = await seed(server, observation());
    const response = await post(
      bundle('transaction', [
        { request: { method: 'GET', url: `Observation?_id=${doomed.split('/')[1]}` } },
        { request: { method: 'DELETE', url: doomed } },
      ]),
    );
    expect(response.status, response.text).toBe(200);
    expect(response.body.entry[0].resource.entry ?? []).toHaveLength(0);
    expect((await readResource(server, doomed)).status).toBe(410);
  });

  it('rolls back every entry when one fails, naming it', async () => {
    const id = `spool-rollback-${mode === 'spooled' ? 's' : 'm'}`;
    await expectRejected(
      [
        { fullUrl: uuid(), resource: patient(), request: { method: 'POST', url: 'Patient' } },
        { resource: patient({ id }), request: { method: 'PUT', url: `Patient/${id}` } },
        { resource: patient({ birthDate: 'x' }), request: { method: 'POST', url: 'Patient' } },
      ],
      400,
      'Bundle.entry[2]',
    );
    expect((await readResource(server, `Patient/${id}`)).status).toBe(404);
  });

  it('runs a batch entry by entry: a failing entry gets its outcome, the others are stored', async () => {
    const before = await rowCounts(server);
    const response = await post(
      bundle('batch', [
        { resource: patient(), request: { method: 'POST', url: 'Patient' } },
        { resource: patient({ birthDate: 'x' }), request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: 'Patient/spool-missing' } },
      ]),
    );
    expect(response.status, response.text).toBe(200);
    expect(response.body.entry.map((e: { response: { status: string } }) => e.response.status)).toEqual(['201 Created', '400 Bad Request', '404 Not Found']);
    expect(await rowCounts(server)).toEqual({ resource: before.resource + 1, history: before.history + 1 });
  });

  it('refuses a batch with a malformed entry before running any', async () => {
    const before = await rowCounts(server);
    const response = await post(bundle('batch', [{ resource: patient(), request: { method: 'POST', url: 'Patient' } }, { resource: patient() } as RequestEntry]));
    expectOutcome(response, 400, 'Bundle.entry[1]');
    expect(await rowCounts(server)).toEqual(before);
  });

  it('refuses a Bundle that is neither a batch nor a transaction', async () => {
    expectOutcome(await post({ resourceType: 'Bundle', type: 'collection', entry: [] }), 400, 'collection');
    expectOutcome(await post({ resourceType: 'Bundle', type: 'transaction', entry: { resource: patient() } }), 400, 'Bundle.entry must be an array');
  });

  it('reads a body sent in pieces that split characters and tokens (no Content-Length)', async () => {
    const text = JSON.stringify(bundle('transaction', [{ resource: patient({ name: [{ family: 'Ånström 😀' }] }), request: { method: 'POST', url: 'Patient' } }]));
    spooled.mockClear();
    const response = await postInPieces(server, Buffer.from(text), 3);
    expect(response.statusCode, response.body).toBe(200);
    expect(spooled).toHaveBeenCalledTimes(mode === 'spooled' ? 1 : 0);
    const created = referenceOf(JSON.parse(response.body).entry[0].response.location);
    expect((await readResource(server, created)).body.name[0].family).toBe('Ånström 😀');
  });
});

describe('a spooled body that cannot be used', () => {
  let server: TestServer;
  let spoolDir: string;

  beforeAll(async () => {
    spoolDir = await mkdtemp(path.join(tmpdir(), 'fhir-spool-test-'));
    server = await startTestServer({ BUNDLE_SPOOL_THRESHOLD: '0', BUNDLE_SPOOL_DIR: spoolDir, BODY_LIMIT: String(BODY_LIMIT) });
  });

  afterAll(async () => {
    await server?.close();
    await rm(spoolDir, { recursive: true, force: true });
  });

  afterEach(async () => {
    expect(await readdir(spoolDir)).toEqual([]);
  });

  const head = '{"resourceType":"Bundle","type":"transaction"';
  const entry = JSON.stringify({ resource: patient(), request: { method: 'POST', url: 'Patient' } });

  it.each([
    ['a truncated body', `${head},"entry":[${entry}`],
    ['garbage after the object', `${head},"entry":[${entry}]} trailing`],
    ['a root that is not an object', `[${entry}]`],
    ['malformed JSON inside an entry', `${head},"entry":[${entry},{"resource":{"resourceType":"Patient","active":tru},"request":{"method":"POST","url":"Patient"}}]}`],
    ['malformed JSON in a top-level member', `${head},"id":tru,"entry":[${entry}]}`],
    ['mismatched brackets inside an entry', `${head},"entry":[{"resource":{"resourceType":"Patient","name":[{"family":"x"}}]}]}`],
  ])('%s is 400 and writes nothing', async (_name, text) => {
    const before = await rowCounts(server);
    const response = await fhirRequest(server.app, 'POST', '/fhir', text, { 'content-type': 'application/fhir+json' });
    expect(response.status, response.text).toBe(400);
    expect(response.body.resourceType).toBe('OperationOutcome');
    expect(response.body.issue[0].code).toBe('structure');
    expect(await rowCounts(server)).toEqual(before);
  });

  it('is 413 beyond BODY_LIMIT, announced or not', async () => {
    const large = bundle('transaction', [{ resource: patient({ text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'x'.repeat(BODY_LIMIT)}</div>` } }), request: { method: 'POST', url: 'Patient' } }]);
    const bytes = Buffer.from(JSON.stringify(large));
    const announced = await fhirRequest(server.app, 'POST', '/fhir', bytes.toString(), { 'content-type': 'application/fhir+json' });
    expect(announced.status, announced.text).toBe(413);
    expect(announced.body.resourceType).toBe('OperationOutcome');
    const chunked = await postInPieces(server, bytes, 4096);
    expect(chunked.statusCode, chunked.body).toBe(413);
    expect(JSON.parse(chunked.body).resourceType).toBe('OperationOutcome');
  });

  it('leaves no file when the client goes away in the middle of its body', async () => {
    const origin = await server.app.listen({ port: 0, host: '127.0.0.1' });
    const headers = { 'content-type': 'application/fhir+json', authorization: `Bearer ${server.adminToken}`, 'content-length': '10000' };
    const request = http.request(`${origin}/fhir`, { method: 'POST', headers });
    request.on('error', () => undefined);
    request.write(`${head},"entry":[${entry},`);
    await vi.waitFor(async () => expect(await readdir(spoolDir)).toHaveLength(1));
    request.destroy();
    await vi.waitFor(async () => expect(await readdir(spoolDir)).toEqual([]));
  });

  it('does not spool what is not a batch or transaction', async () => {
    spooled.mockClear();
    const response = await fhirRequest(server.app, 'POST', '/fhir/Patient', patient());
    expect(response.status, response.text).toBe(201);
    expect(spooled).not.toHaveBeenCalled();
  });
});

describe('spool files a stopped process left', () => {
  it('are removed at start once older than a day; newer ones and other files are kept', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'fhir-spool-stale-'));
    try {
      const name = () => `fhir-bundle-${crypto.randomUUID()}.json`;
      const [old, recent, other] = [name(), name(), 'notes.json'];
      for (const file of [old, recent, other]) await writeFile(path.join(dir, file), '{}');
      const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
      for (const file of [old, other]) await utimes(path.join(dir, file), twoDaysAgo, twoDaysAgo);
      expect(await removeStaleSpools(dir)).toBe(1);
      expect((await readdir(dir)).sort()).toEqual([recent, other].sort());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
