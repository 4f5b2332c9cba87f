import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, startTestServer, type TestServer } from '../support/test-server.js';

describe('the FHIR API rate limit (RATE_LIMIT_PER_MINUTE)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ RATE_LIMIT_PER_MINUTE: '3' });
  });
  afterAll(async () => server?.close());

  it('answers 429 with Retry-After beyond the limit, per client', async () => {
    for (let i = 0; i < 3; i++) expect((await fhirRequest(server.app, 'GET', '/fhir/Patient')).status).toBe(200);
    const refused = await fhirRequest(server.app, 'GET', '/fhir/Patient');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.body.issue[0].code).toBe('throttled');

    const other = await server.auth.tokens.issue({ sub: 'other', client_id: 'other-client', scope: 'system/*.rs' });
    expect((await fhirRequest(server.app, 'GET', '/fhir/Patient', undefined, { authorization: `Bearer ${other}` })).status).toBe(200);
  });
});
