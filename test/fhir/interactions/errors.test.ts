import type { InjectOptions } from 'fastify';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODE_SYSTEM } from '../../../src/errors.js';
import { fhirRequest, startTestServer, type TestServer } from '../../support/test-server.js';
import { expectOperationOutcome, patient, rowCounts } from './support.js';

/**
 * Errors (CONTRACT.md "Errors", http.html#2.21.0.17): every FHIR error is an OperationOutcome with
 * an HTTP status that fits, a FHIR issue type, a stable error code and a readable message.
 */
describe('errors', () => {
  let server: TestServer;
  let existingId: string;
  let deletedId: string;

  beforeAll(async () => {
    server = await startTestServer();
    existingId = (await fhirRequest(server.app, 'POST', '/fhir/Patient', patient())).body.id;
    deletedId = (await fhirRequest(server.app, 'POST', '/fhir/Patient', patient())).body.id;
    await fhirRequest(server.app, 'DELETE', `/fhir/Patient/${deletedId}`);
  });

  afterAll(async () => {
    await server.close();
  });

  describe('405 Method Not Allowed, with an Allow header', () => {
    it.each([
      ['POST', '/fhir/Patient/1', ['GET', 'PUT', 'PATCH', 'DELETE']],
      ['DELETE', '/fhir/metadata', ['GET']],
      ['PUT', '/fhir/Patient/1/_history', ['GET']],
      ['POST', '/fhir/Patient/1/_history/1', ['GET']],
      ['DELETE', '/fhir/_history', ['GET']],
      ['PUT', '/fhir', ['GET', 'POST']],
      ['GET', '/fhir/Patient/_search', ['POST']],
      ['GET', '/fhir/Patient/$validate', ['POST']],
    ] as const)('%s %s answers 405 and allows %j', async (method, url, allowed) => {
      const response = await fhirRequest(server.app, method, url, method === 'GET' || method === 'DELETE' ? undefined : patient());
      expectOperationOutcome(response, 405);
      expect(String(response.headers.allow).split(/,\s*/).sort()).toEqual([...allowed].sort());
      expect(response.body.issue[0].code).toBe('not-supported');
    });

    it('writes nothing', async () => {
      const before = await rowCounts(server);
      await fhirRequest(server.app, 'POST', `/fhir/Patient/${existingId}`, patient({ id: existingId }));
      expect(await rowCounts(server)).toEqual(before);
    });
  });

  describe('403 Forbidden for a token whose scopes do not reach the request', () => {
    it('carries the RFC 6750 insufficient_scope challenge and an OperationOutcome saying what is missing', async () => {
      const token = await server.auth.tokens.issue({ sub: 'narrow-app', client_id: 'narrow-app', scope: 'system/Observation.rs' });
      const response = await fhirRequest(server.app, 'GET', `/fhir/Patient/${existingId}`, undefined, { authorization: `Bearer ${token}` });
      expectOperationOutcome(response, 403);
      expect(response.headers['www-authenticate']).toBe('Bearer realm="fhir", error="insufficient_scope", error_description="The access token does not grant read on Patient"');
      expect(response.body.issue[0]).toMatchObject({ code: 'forbidden', details: { coding: [{ system: ERROR_CODE_SYSTEM, code: 'insufficient-scope' }] } });
    });
  });

  describe('404 Not Found', () => {
    it.each([
      ['outside /fhir', 'GET', '/not-fhir/Patient'],
      ['at the root', 'GET', '/'],
      ['below an instance', 'GET', '/fhir/Patient/1/everything/else'],
      ['for a POST outside /fhir', 'POST', '/api/Patient'],
    ] as const)('answers an unknown path %s with an OperationOutcome', async (_where, method, url) => {
      const response = await fhirRequest(server.app, method, url, method === 'POST' ? patient() : undefined);
      expectOperationOutcome(response, 404);
      expect(response.body.issue[0].code).toBe('not-found');
    });

    it('answers an unknown operation with 404', async () => {
      expectOperationOutcome(await fhirRequest(server.app, 'POST', '/fhir/Patient/$transmogrify', { resourceType: 'Parameters' }), 404);
    });

    it('answers an unknown resource type with 404 at every level', async () => {
      for (const url of ['/fhir/Wizard', '/fhir/Wizard/1', '/fhir/Wizard/1/_history', '/fhir/Wizard/_history']) {
        expectOperationOutcome(await fhirRequest(server.app, 'GET', url), 404);
      }
    });
  });

  describe('the shape of an error', () => {
    it('has severity, issue type, a stable code in details.coding and the message in details.text and diagnostics', async () => {
      const response = await fhirRequest(server.app, 'GET', '/fhir/Patient/nobody-here');
      expectOperationOutcome(response, 404);
      const [issue] = response.body.issue;
      expect(issue).toMatchObject({
        severity: 'error',
        code: 'not-found',
        details: { coding: [{ system: ERROR_CODE_SYSTEM, code: 'not-found' }], text: 'Patient/nobody-here not found' },
        diagnostics: 'Patient/nobody-here not found',
      });
    });

    it('names the deletion with the issue type "deleted" on 410', async () => {
      const response = await fhirRequest(server.app, 'GET', `/fhir/Patient/${deletedId}`);
      expectOperationOutcome(response, 410);
      expect(response.body.issue[0].details.coding[0].code).toBe('gone');
    });

    it('is served as application/fhir+json even when the client asked for application/json', async () => {
      const response = await fhirRequest(server.app, 'GET', '/fhir/Patient/nobody-here', undefined, { accept: 'application/json' });
      expect(response.status).toBe(404);
      expect(response.body.resourceType).toBe('OperationOutcome');
    });
  });

  describe('every error status of the catalogue is an OperationOutcome', () => {
    // URLs and bodies are functions: the ids they use exist only once beforeAll has run.
    const cases: [string, InjectOptions['method'], () => string, () => unknown, Record<string, string>, number][] = [
      ['an invalid id', 'GET', () => '/fhir/Patient/no_underscores', () => undefined, {}, 400],
      ['a malformed percent-encoding in the path', 'GET', () => '/fhir/Patient/%E0%A4%A', () => undefined, {}, 400],
      ['an invalid resource', 'POST', () => '/fhir/Patient', () => patient({ gender: 'x' }), {}, 400],
      ['an unknown type', 'GET', () => '/fhir/Dragon/1', () => undefined, {}, 404],
      ['a missing resource', 'GET', () => '/fhir/Patient/missing', () => undefined, {}, 404],
      ['a wrong method', 'PATCH', () => '/fhir/metadata', () => undefined, {}, 405],
      ['an unacceptable format', 'GET', () => '/fhir/metadata', () => undefined, { accept: 'application/fhir+xml' }, 406],
      ['a conflict', 'PUT', () => '/fhir/Patient?_id=nobody', () => patient({ id: existingId }), {}, 409],
      ['a deleted resource', 'GET', () => `/fhir/Patient/${deletedId}`, () => undefined, {}, 410],
      ['a stale If-Match', 'PUT', () => `/fhir/Patient/${existingId}`, () => patient({ id: existingId }), { 'if-match': 'W/"99"' }, 412],
      ['an unsupported media type', 'POST', () => '/fhir/Patient', () => 'x', { 'content-type': 'text/csv' }, 415],
      ['a failed JSON Patch test', 'PATCH', () => `/fhir/Patient/${existingId}`, () => [{ op: 'test', path: '/gender', value: 'other' }], { 'content-type': 'application/json-patch+json' }, 422],
    ];

    it.each(cases)('%s: %s answers the fitting status', async (_name, method, url, body, headers, status) => {
      const before = await rowCounts(server);
      const response = await fhirRequest(server.app, method, url(), body(), headers);
      expectOperationOutcome(response, status);
      expect(response.body.issue[0].diagnostics ?? response.body.issue[0].details?.text).toBeTruthy();
      expect(await rowCounts(server)).toEqual(before);
    });
  });

  describe('a NUL character (%00), which no FHIR value holds, is a 400 wherever it is sent', () => {
    it('in a search value: names the parameter', async () => {
      const response = await fhirRequest(server.app, 'GET', '/fhir/Patient?identifier=a%00b');
      expectOperationOutcome(response, 400);
      expect(response.body.issue[0].diagnostics).toBe('Invalid value "a%00b" for parameter "identifier": a NUL character (%00) is in no FHIR value');
    });

    it('in the criteria of a conditional create: nothing is created', async () => {
      const before = await rowCounts(server);
      const response = await fhirRequest(server.app, 'POST', '/fhir/Patient', patient(), { 'if-none-exist': 'identifier=a%00b' });
      expectOperationOutcome(response, 400);
      expect(await rowCounts(server)).toEqual(before);
    });

    it("in an operation's input that reaches the database", async () => {
      const response = await fhirRequest(server.app, 'GET', '/fhir/ValueSet/$expand?url=a%00b');
      expectOperationOutcome(response, 400);
      expect(response.body.issue[0].diagnostics).toMatch(/NUL character \(%00\)/);
    });
  });

  describe('requests the HTTP parser refuses are OperationOutcomes too', () => {
    let origin: URL;
    beforeAll(async () => {
      origin = new URL(await server.app.listen({ port: 0, host: '127.0.0.1' }));
    });

    /** One raw request on its own connection; what the server wrote back before closing it. */
    async function rawExchange(request: string): Promise<{ status: number; contentType: string; body: ReturnType<typeof JSON.parse> }> {
      const answer = await new Promise<string>((resolve, reject) => {
        let received = '';
        const socket = connect(Number(origin.port), origin.hostname, () => socket.end(request));
        socket.on('data', (chunk) => (received += chunk.toString('utf8')));
        socket.on('close', () => resolve(received));
        socket.on('error', reject);
      });
      const [head, body] = answer.split('\r\n\r\n');
      return { status: Number(head.split(' ')[1]), contentType: /content-type: (.*)/i.exec(head)?.[1] ?? '', body: JSON.parse(body) };
    }

    it('answers a URL with raw non-ASCII characters with 400 saying they must be percent-encoded', async () => {
      const response = await rawExchange(`GET /fhir/Patient?family=Müller HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect(response.status).toBe(400);
      expect(response.contentType).toMatch(/^application\/fhir\+json/);
      expect(response.body.resourceType).toBe('OperationOutcome');
      expect(response.body.issue[0].diagnostics).toMatch(/percent-encoded/);
    });

    it('answers headers larger than the limit with 431', async () => {
      const response = await rawExchange(`GET /fhir/metadata HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      expect(response.status).toBe(431);
      expect(response.body.issue[0]).toMatchObject({ severity: 'error', code: 'too-costly' });
    });
  });
});
