import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, startTestServer, type TestServer } from '../../support/test-server.js';
import { expectOperationOutcome, issueText, patient, rowCounts } from './support.js';

/**
 * Formats (http.html#mime-type): we speak JSON only. Request bodies may be application/fhir+json or
 * application/json (415 otherwise); responses are application/fhir+json unless the client asks for
 * application/json; a client that accepts only XML or another format gets 406. `_format` overrides
 * Accept; `_pretty=true` indents.
 */
describe('content negotiation', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server.close();
  });

  async function expectNothingWritten(action: () => Promise<void>) {
    const before = await rowCounts(server);
    await action();
    expect(await rowCounts(server)).toEqual(before);
  }

  const postRaw = (payload: string, contentType: string) =>
    fhirRequest(server.app, 'POST', '/fhir/Patient', payload, { 'content-type': contentType });

  describe('request bodies', () => {
    it.each(['application/fhir+json', 'application/json', 'application/fhir+json; charset=utf-8', 'application/json+fhir', 'Application/FHIR+JSON'])(
      'accepts a resource sent as %s',
      async (contentType) => {
        const response = await postRaw(JSON.stringify(patient()), contentType);
        expect(response.status, response.text).toBe(201);
        expect(response.body.resourceType).toBe('Patient');
      },
    );

    it.each([
      ['text/plain', 'a Patient'],
      ['application/xml', '<Patient xmlns="http://hl7.org/fhir"/>'],
      ['application/fhir+xml', '<Patient xmlns="http://hl7.org/fhir"/>'],
    ])('answers 415 naming the type for a body sent as %s, and writes nothing', async (contentType, payload) => {
      await expectNothingWritten(async () => {
        const response = await postRaw(payload, contentType);
        expectOperationOutcome(response, 415);
        expect(issueText(response)).toContain(contentType);
      });
    });

    it.each([
      ['POST', '/fhir/Patient', 'application/x-www-form-urlencoded'],
      ['POST', '/fhir/Patient', 'application/json-patch+json'],
      ['PUT', '/fhir/Patient/form-body', 'application/x-www-form-urlencoded'],
      ['PUT', '/fhir/Patient/form-body', 'application/json-patch+json'],
    ] as const)('answers %s %s with a body sent as %s (a format that holds no resource) 415 naming it, and writes nothing', async (method, url, contentType) => {
      await expectNothingWritten(async () => {
        const payload = JSON.stringify(patient({ id: 'form-body' }));
        const response = await fhirRequest(server.app, method, url, payload, { 'content-type': contentType });
        expectOperationOutcome(response, 415);
        expect(issueText(response)).toContain(contentType);
      });
    });

    it('answers 415 for a body sent without a Content-Type', async () => {
      await expectNothingWritten(async () => {
        const response = await server.app.inject({
          method: 'POST',
          url: '/fhir/Patient',
          headers: { authorization: `Bearer ${server.adminToken}` },
          payload: JSON.stringify(patient()),
        });
        expect(response.statusCode).toBe(415);
        expect(JSON.parse(response.body).resourceType).toBe('OperationOutcome');
      });
    });

    it('answers 400 with an OperationOutcome for malformed JSON, and writes nothing', async () => {
      await expectNothingWritten(async () => {
        const response = await postRaw('{"resourceType": "Patient", "name": [', 'application/fhir+json');
        expectOperationOutcome(response, 400);
        expect(issueText(response)).toMatch(/JSON/);
      });
    });

    it('answers 400 for JSON nested deeper than 200 levels, and writes nothing', async () => {
      // Extensions within extensions: each level is an array and an object.
      const nested = (levels: number) => `{"resourceType":"Patient","extension":[${'{"url":"http://x.org/e","extension":['.repeat(levels - 1)}{"url":"http://x.org/e","valueString":"deep"}${']}'.repeat(levels - 1)}]}`;
      await expectNothingWritten(async () => {
        const response = await postRaw(nested(5000), 'application/fhir+json');
        expectOperationOutcome(response, 400);
        expect(issueText(response)).toMatch(/nest deeper than 200 levels/);
      });
      // n nested extensions nest 2n + 1 levels deep: 99 are 199 levels, 100 are 201.
      expect((await postRaw(nested(99), 'application/fhir+json')).status).toBe(201);
      expectOperationOutcome(await postRaw(nested(100), 'application/fhir+json'), 400);
    });

    it('answers 400 for malformed JSON on update too', async () => {
      const response = await fhirRequest(server.app, 'PUT', '/fhir/Patient/x', '{not json}', { 'content-type': 'application/json' });
      expectOperationOutcome(response, 400);
    });
  });

  describe('response format', () => {
    const read = (url: string, headers: Record<string, string> = {}) => fhirRequest(server.app, 'GET', url, undefined, headers);

    it('answers application/fhir+json by default', async () => {
      const response = await read('/fhir/metadata');
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
    });

    it.each([
      ['application/fhir+json', 'application/fhir+json'],
      ['application/json', 'application/json'],
      ['*/*', 'application/fhir+json'],
      ['application/fhir+xml;q=1, application/json;q=0.5', 'application/json'],
      ['text/html, application/xhtml+xml', 'application/fhir+json'],
    ])('answers Accept: %s with %s', async (accept, contentType) => {
      const response = await read('/fhir/metadata', { accept });
      expect(response.status).toBe(200);
      expect(String(response.headers['content-type'])).toBe(`${contentType}; charset=utf-8`);
      expect(response.body.resourceType).toBe('CapabilityStatement');
    });

    it.each(['application/fhir+xml', 'application/xml', 'text/turtle'])('answers 406 with an OperationOutcome for Accept: %s', async (accept) => {
      const response = await read('/fhir/metadata', { accept });
      expectOperationOutcome(response, 406);
    });

    it('answers 406 for _format=xml, even when Accept allows JSON', async () => {
      const response = await read('/fhir/metadata?_format=xml', { accept: 'application/fhir+json' });
      expectOperationOutcome(response, 406);
      expect(issueText(response)).toContain('xml');
    });

    it.each([
      ['json', 'application/fhir+json'],
      ['application/fhir+json', 'application/fhir+json'],
      ['application/json', 'application/json'],
    ])('answers _format=%s with %s, overriding Accept', async (format, contentType) => {
      const response = await read(`/fhir/metadata?_format=${encodeURIComponent(format)}`, { accept: 'application/fhir+xml' });
      expect(response.status).toBe(200);
      expect(String(response.headers['content-type'])).toBe(`${contentType}; charset=utf-8`);
    });

    it('does not write when the response format is not acceptable', async () => {
      await expectNothingWritten(async () => {
        const response = await fhirRequest(server.app, 'POST', '/fhir/Patient', patient(), { accept: 'application/fhir+xml' });
        expectOperationOutcome(response, 406);
      });
    });

    it('indents the response for _pretty=true, and not otherwise', async () => {
      const created = await fhirRequest(server.app, 'POST', '/fhir/Patient', patient());
      const pretty = await read(`/fhir/Patient/${created.body.id}?_pretty=true`);
      const compact = await read(`/fhir/Patient/${created.body.id}?_pretty=false`);

      expect(pretty.text).toContain('\n  "');
      expect(compact.text).not.toContain('\n');
      expect(pretty.body).toEqual(compact.body);
    });

    it('indents write answers and Bundles for _pretty=true', async () => {
      const created = await fhirRequest(server.app, 'POST', '/fhir/Patient?_pretty=true', patient());
      expect(created.text).toContain('\n  "resourceType": "Patient"');
      const history = await read('/fhir/_history?_pretty=true');
      expect(history.text).toContain('\n  "resourceType": "Bundle"');
    });

    it('returns resources whose JSON is complete and well-formed', async () => {
      const created = await fhirRequest(server.app, 'POST', '/fhir/Patient', patient());
      const response = await read(`/fhir/Patient/${created.body.id}`);
      expect(JSON.parse(response.text)).toEqual(created.body);
    });
  });

  describe('FHIR version (http.html#version-parameter)', () => {
    const read = (url: string, headers: Record<string, string> = {}) => fhirRequest(server.app, 'GET', url, undefined, headers);

    it.each(['application/fhir+json; fhirVersion=4.0', 'application/fhir+json;fhirVersion=4.0.1', 'application/fhir+json; fhirVersion=3.0, application/json; fhirVersion=4.0'])(
      'serves Accept: %s',
      async (accept) => {
        const response = await read('/fhir/metadata', { accept });
        expect(response.status).toBe(200);
        expect(response.body.fhirVersion).toBe('4.0.1');
      },
    );

    it.each(['application/fhir+json; fhirVersion=3.0', 'application/fhir+json; fhirVersion=5.0'])('answers 406 for Accept: %s (only R4 is served)', async (accept) => {
      const response = await read('/fhir/metadata', { accept });
      expectOperationOutcome(response, 406);
    });

    it('answers 415 for a body sent as another FHIR version, and writes nothing', async () => {
      await expectNothingWritten(async () => {
        const response = await postRaw(JSON.stringify(patient()), 'application/fhir+json; fhirVersion=3.0');
        expectOperationOutcome(response, 415);
        expect(issueText(response)).toContain('fhirVersion=3.0');
      });
      const response = await postRaw(JSON.stringify(patient()), 'application/fhir+json; fhirVersion=4.0');
      expect(response.status).toBe(201);
    });

    it('lists the versions served with $versions, without a token', async () => {
      const response = await read('/fhir/$versions', { authorization: '' });
      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        resourceType: 'Parameters',
        parameter: [
          { name: 'version', valueCode: '4.0' },
          { name: 'default', valueCode: '4.0' },
        ],
      });
      const capabilities = await read('/fhir/metadata');
      const operations = capabilities.body.rest[0].operation.map((op: { name: string; definition: string }) => [op.name, op.definition]);
      expect(operations).toContainEqual(['versions', 'http://hl7.org/fhir/OperationDefinition/CapabilityStatement-versions']);
    });
  });

  describe('body size', () => {
    let small: TestServer;

    beforeAll(async () => {
      small = await startTestServer({ BODY_LIMIT: '1kb' });
    });

    afterAll(async () => {
      await small.close();
    });

    it('answers 413 with an OperationOutcome for a body over BODY_LIMIT, and writes nothing', async () => {
      const big = patient({ text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'x'.repeat(2000)}</div>` } });
      const before = await rowCounts(small);

      const response = await fhirRequest(small.app, 'POST', '/fhir/Patient', big);
      expectOperationOutcome(response, 413);
      expect(await rowCounts(small)).toEqual(before);
    });

    it('accepts a body under the limit', async () => {
      const response = await fhirRequest(small.app, 'POST', '/fhir/Patient', patient());
      expect(response.status).toBe(201);
    });
  });
});
