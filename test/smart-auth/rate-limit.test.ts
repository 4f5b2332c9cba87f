import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { rateLimit, RequestCounter, tokenClientKey, tokenRateLimit } from '../../src/smart-auth/rate-limit.js';

/** A clock the test moves by hand. */
function fakeClock(start = 1_700_000_000_000): { now: () => number; advance(ms: number): void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

const byHeader = (request: FastifyRequest): string => String(request.headers['x-client'] ?? request.ip);

let app: FastifyInstance;
afterEach(async () => app?.close());

async function fhirApp(perMinute: number, now?: () => number): Promise<{ app: FastifyInstance; handled: () => number }> {
  let handled = 0;
  const instance = Fastify();
  rateLimit(instance, { perMinute, keyOf: byHeader, now });
  instance.get('/fhir/Patient', async () => {
    handled++;
    return { resourceType: 'Bundle' };
  });
  await instance.ready();
  app = instance;
  return { app: instance, handled: () => handled };
}

const get = (client = 'a') => app.inject({ method: 'GET', url: '/fhir/Patient', headers: { 'x-client': client } });

describe('rateLimit (FHIR API)', () => {
  it('lets perMinute requests through, then answers 429 OperationOutcome "throttled" with Retry-After, without running the route', async () => {
    const clock = fakeClock();
    const { handled } = await fhirApp(3, clock.now);
    for (let i = 0; i < 3; i++) expect((await get()).statusCode).toBe(200);
    const refused = await get();
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBe('60');
    expect(refused.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
    const outcome = refused.json();
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue).toHaveLength(1);
    expect(outcome.issue[0]).toMatchObject({ severity: 'error', code: 'throttled' });
    expect(handled()).toBe(3);
  });

  it('says in Retry-After how long is left of the window, and lets the client in again when it ends', async () => {
    const clock = fakeClock();
    await fhirApp(2, clock.now);
    await get();
    clock.advance(20_500);
    await get();
    expect((await get()).headers['retry-after']).toBe('40');
    clock.advance(39_000);
    expect((await get()).headers['retry-after']).toBe('1');
    clock.advance(500);
    expect((await get()).statusCode).toBe(200);
    expect((await get()).statusCode).toBe(200);
    expect((await get()).statusCode).toBe(429);
  });

  it('does not count refused requests: a client hammering while throttled gets its full quota when the window ends', async () => {
    const clock = fakeClock();
    await fhirApp(2, clock.now);
    for (let i = 0; i < 10; i++) await get();
    clock.advance(60_000);
    expect((await get()).statusCode).toBe(200);
    expect((await get()).statusCode).toBe(200);
    expect((await get()).statusCode).toBe(429);
  });

  it('counts each key apart', async () => {
    await fhirApp(1);
    expect((await get('a')).statusCode).toBe(200);
    expect((await get('a')).statusCode).toBe(429);
    expect((await get('b')).statusCode).toBe(200);
    expect((await get('b')).statusCode).toBe(429);
  });

  it('is off with perMinute 0: no hook is added at all', async () => {
    const { handled } = await fhirApp(0);
    for (let i = 0; i < 50; i++) expect((await get()).statusCode).toBe(200);
    expect(handled()).toBe(50);
  });

  it('runs after an earlier onRequest hook, so keyOf can use what authentication found', async () => {
    const instance = Fastify();
    instance.decorateRequest('clientId', '');
    instance.addHook('onRequest', async (request) => {
      (request as FastifyRequest & { clientId: string }).clientId = String(request.headers.authorization).replace('Bearer ', 'client-');
    });
    const keys: string[] = [];
    rateLimit(instance, {
      perMinute: 1,
      keyOf: (request) => {
        const key = (request as FastifyRequest & { clientId: string }).clientId;
        keys.push(key);
        return key;
      },
    });
    instance.get('/x', async () => 'ok');
    app = instance;
    expect((await instance.inject({ url: '/x', headers: { authorization: 'Bearer one' } })).statusCode).toBe(200);
    expect((await instance.inject({ url: '/x', headers: { authorization: 'Bearer two' } })).statusCode).toBe(200);
    expect((await instance.inject({ url: '/x', headers: { authorization: 'Bearer one' } })).statusCode).toBe(429);
    expect(keys).toEqual(['client-one', 'client-two', 'client-one']);
  });
});

describe('RequestCounter', () => {
  it('forgets keys whose window has ended, so memory stays bounded', () => {
    const clock = fakeClock();
    const counter = new RequestCounter(5, clock.now);
    for (let i = 0; i < 100; i++) counter.hit(`client-${i}`);
    expect(counter.size).toBe(100);
    clock.advance(60_000);
    counter.hit('late');
    expect(counter.size).toBe(1);
  });

  it('answers 0 while under the limit and whole seconds (at least 1) when over', () => {
    const clock = fakeClock();
    const counter = new RequestCounter(1, clock.now);
    expect(counter.hit('k')).toBe(0);
    clock.advance(59_999);
    expect(counter.hit('k')).toBe(1);
  });
});

async function tokenApp(perMinute: number, now?: () => number): Promise<FastifyInstance> {
  const instance = Fastify();
  // As the server's OAuth endpoints parse a form.
  instance.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => done(null, new URLSearchParams(String(body))));
  tokenRateLimit(instance, { perMinute, now });
  instance.post('/oauth/token', async () => ({ access_token: 'x', token_type: 'Bearer' }));
  await instance.ready();
  app = instance;
  return instance;
}

const token = (form: string, headers: Record<string, string> = {}, remoteAddress = '10.0.0.1') =>
  app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: form,
    remoteAddress,
  });

describe('tokenRateLimit (/oauth/token)', () => {
  it('answers the RFC 6749 error slow_down with 429, Retry-After and no-store beyond the limit', async () => {
    await tokenApp(2, fakeClock().now);
    expect((await token('grant_type=client_credentials&client_id=app')).statusCode).toBe(200);
    expect((await token('grant_type=client_credentials&client_id=app')).statusCode).toBe(200);
    const refused = await token('grant_type=client_credentials&client_id=app');
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toEqual({ error: 'slow_down', error_description: 'Too many requests' });
    expect(refused.headers['retry-after']).toBe('60');
    expect(refused.headers['cache-control']).toBe('no-store');
    expect(refused.headers.pragma).toBe('no-cache');
    expect(refused.headers['content-type']).toMatch(/^application\/json/);
  });

  it('counts per client_id, whatever the address', async () => {
    await tokenApp(1);
    expect((await token('client_id=one', {}, '10.0.0.1')).statusCode).toBe(200);
    expect((await token('client_id=one', {}, '10.0.0.2')).statusCode).toBe(429);
    expect((await token('client_id=two', {}, '10.0.0.1')).statusCode).toBe(200);
  });

  it('takes the client from Basic authentication as the same client as the form', async () => {
    await tokenApp(1);
    const basic = `Basic ${Buffer.from('my%20app:secret').toString('base64')}`;
    expect((await token('grant_type=client_credentials', { authorization: basic })).statusCode).toBe(200);
    expect((await token('grant_type=client_credentials&client_id=my+app')).statusCode).toBe(429);
  });

  it('counts requests that name no client by address', async () => {
    await tokenApp(1);
    expect((await token('grant_type=client_credentials', {}, '10.0.0.1')).statusCode).toBe(200);
    expect((await token('grant_type=client_credentials', {}, '10.0.0.1')).statusCode).toBe(429);
    expect((await token('grant_type=client_credentials', {}, '10.0.0.2')).statusCode).toBe(200);
  });

  it('is off with perMinute 0', async () => {
    await tokenApp(0);
    for (let i = 0; i < 20; i++) expect((await token('client_id=one')).statusCode).toBe(200);
  });
});

describe('tokenClientKey', () => {
  const request = (body: unknown, authorization?: string) =>
    ({ body, headers: authorization ? { authorization } : {}, ip: '192.0.2.7' }) as unknown as FastifyRequest;

  it('prefers the form client_id, then Basic, then the address', () => {
    const basic = `Basic ${Buffer.from('basic-client:pw').toString('base64')}`;
    expect(tokenClientKey(request(new URLSearchParams({ client_id: 'form-client' }), basic))).toBe('client:form-client');
    expect(tokenClientKey(request(new URLSearchParams(), basic))).toBe('client:basic-client');
    expect(tokenClientKey(request(new URLSearchParams({ client_id: '' })))).toBe('address:192.0.2.7');
    expect(tokenClientKey(request(undefined, 'Bearer xyz'))).toBe('address:192.0.2.7');
  });

  it('falls back to the address when the Basic user name is not valid form encoding', () => {
    expect(tokenClientKey(request(undefined, `Basic ${Buffer.from('%E0%A4%A:pw').toString('base64')}`))).toBe('address:192.0.2.7');
  });
});
