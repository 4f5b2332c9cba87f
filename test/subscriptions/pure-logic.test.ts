import { createHmac } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { loadDefinitions } from '../../src/definitions/index.js';
import { FhirError } from '../../src/errors.js';
import { signature } from '../../src/subscriptions/rest-hook-client.js';
import { parseSubscription, takeSecret } from '../../src/subscriptions/subscription-spec.js';
import { parseTopic } from '../../src/subscriptions/topic.js';
import { fhirPathPasses, queryCriteriaOutcome } from '../../src/subscriptions/trigger.js';
import { parseClientMessage, websocketError, websocketUrl } from '../../src/subscriptions/websocket.js';
import { topicResource, CLINIC_TOPICS } from '../../src/subscriptions/clinic-topics.js';
import { compilePolicy, loadPolicy, storePolicy } from '../../src/smart-auth/index.js';
import type { Subscription } from '@medplum/fhirtypes';
import { topicSubscription, TOPICS } from './support.js';

loadDefinitions();

const expectInvalid = (fn: () => unknown, expression: RegExp) => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(FhirError);
    expect((error as FhirError).status).toBe(400);
    expect(JSON.stringify((error as FhirError).toOperationOutcome())).toMatch(expression);
    return;
  }
  throw new Error('expected a 400');
};

describe('reading a Subscription', () => {
  it('reads a classic subscription: a search on one type', () => {
    const spec = parseSubscription({
      resourceType: 'Subscription',
      id: 's1',
      status: 'requested',
      reason: 'x',
      criteria: 'Appointment?actor=Practitioner/1&status=booked',
      channel: { type: 'rest-hook', endpoint: 'https://example.org/hook', payload: 'application/fhir+json', header: ['Authorization: Bearer abc', 'X-A:b'] },
    });
    expect(spec.flavour).toBe('classic');
    expect(spec.criteria?.type).toBe('Appointment');
    expect([...(spec.criteria?.params ?? [])]).toEqual([['actor', 'Practitioner/1'], ['status', 'booked']]);
    expect(spec.channel.headers).toEqual([['Authorization', 'Bearer abc'], ['X-A', 'b']]);
    expect(spec.channel.timeoutSeconds).toBe(10);
  });

  it('reads a topic-based subscription with its backport extensions', () => {
    const body = topicSubscription(TOPICS.appointmentBooked, 'rest-hook', 'https://example.org/hook', {
      filters: ['Appointment?actor=Practitioner/1', 'Appointment?status=booked'],
      content: 'full-resource',
      heartbeat: 60,
      timeout: 500,
      maxCount: 7,
    });
    const spec = parseSubscription({ ...body, id: 's2' } as unknown as Subscription);
    expect(spec.flavour).toBe('topic');
    expect(spec.topicUrl).toBe(TOPICS.appointmentBooked);
    expect(spec.filters.map((f) => f.text)).toEqual(['Appointment?actor=Practitioner/1', 'Appointment?status=booked']);
    expect(spec.channel).toMatchObject({ content: 'full-resource', heartbeatSeconds: 60, timeoutSeconds: 60, maxCount: 7 });
  });

  it('refuses what it cannot serve, naming the element', () => {
    const base = { resourceType: 'Subscription', id: 'x', status: 'requested', reason: 'x' } as const;
    expectInvalid(() => parseSubscription({ ...base, criteria: 'nonsense', channel: { type: 'rest-hook', endpoint: 'https://e.org' } }), /Subscription.criteria/);
    expectInvalid(() => parseSubscription({ ...base, criteria: 'Patient', channel: { type: 'sms', endpoint: 'tel:1' } }), /channel.type/);
    expectInvalid(() => parseSubscription({ ...base, criteria: 'Patient', channel: { type: 'rest-hook', endpoint: 'not a url' } }), /channel.endpoint/);
    expectInvalid(() => parseSubscription({ ...base, criteria: 'Patient', channel: { type: 'rest-hook', endpoint: 'https://e.org', header: ['X: a\r\nY: b'] } }), /header/);
    const filtered = { ...base, criteria: 'Patient', _criteria: { extension: [{ url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria', valueString: 'Patient?name=x' }] }, channel: { type: 'websocket' } };
    expectInvalid(() => parseSubscription(filtered as unknown as Subscription), /topic-based/);
  });

  it('takes the secret out of the resource: set, cleared, or kept', () => {
    const url = 'http://fhir-server.example/StructureDefinition/subscription-secret';
    const base: Subscription = { resourceType: 'Subscription', status: 'requested', reason: 'x', criteria: 'Patient', channel: { type: 'websocket' } };
    const set = takeSecret({ ...base, channel: { type: 'rest-hook', extension: [{ url, valueString: 's3cret' }] } });
    expect(set.secret).toBe('s3cret');
    expect(JSON.stringify(set.subscription)).not.toContain('s3cret');
    expect(takeSecret({ ...base, channel: { type: 'rest-hook', extension: [{ url, valueString: '' }] } }).secret).toBe('');
    expect(takeSecret(base).secret).toBeUndefined();
  });
});

describe('topics', () => {
  it('reads the shipped topics back as they are stored', () => {
    for (const definition of CLINIC_TOPICS) {
      const topic = parseTopic(topicResource(definition));
      expect(topic.url).toBe(`http://fhir-server.example/SubscriptionTopic/${definition.id}`);
      expect(topic.triggers[0].resourceType).toBe(definition.resource);
      expect([...topic.triggers[0].interactions]).toEqual(definition.interactions);
      expect(topic.canFilterBy.length).toBeGreaterThan(0);
    }
  });

  it('evaluates FHIRPath criteria with %current and %previous', () => {
    const booked = CLINIC_TOPICS.find((t) => t.id === 'appointment-booked')?.fhirPath as string;
    const appointment = (status: string) => ({ resourceType: 'Appointment' as const, status: status as 'booked', participant: [] });
    expect(fhirPathPasses(booked, appointment('booked'), undefined)).toBe(true);
    expect(fhirPathPasses(booked, appointment('booked'), appointment('proposed'))).toBe(true);
    expect(fhirPathPasses(booked, appointment('booked'), appointment('booked'))).toBe(false);
    expect(fhirPathPasses(booked, appointment('cancelled'), appointment('booked'))).toBe(false);
    expect(fhirPathPasses('%current.nonsense(', appointment('booked'), undefined)).toBe(false);
  });

  it('combines query criteria results as R5 says', () => {
    const query = { previous: 'status:not=finished', current: 'status=finished', resultForCreate: 'test-passes', resultForDelete: 'test-fails', requireBoth: true } as const;
    expect(queryCriteriaOutcome(query, true, true, 'update')).toBe(true);
    expect(queryCriteriaOutcome(query, false, true, 'update')).toBe(false);
    expect(queryCriteriaOutcome(query, undefined, true, 'create')).toBe(true);
    expect(queryCriteriaOutcome(query, true, undefined, 'delete')).toBe(false);
    expect(queryCriteriaOutcome({ ...query, requireBoth: false }, false, true, 'update')).toBe(true);
    expect(queryCriteriaOutcome({ resultForCreate: 'test-fails', resultForDelete: 'test-fails', requireBoth: false, current: 'status=finished' }, undefined, false, 'update')).toBe(false);
  });
});

describe('websocket messages', () => {
  it('understands the forms clients send', () => {
    expect(parseClientMessage('bind abc')).toEqual({ kind: 'bind', id: 'abc' });
    expect(parseClientMessage('bind http://x/fhir/Subscription/abc')).toEqual({ kind: 'bind', id: 'abc' });
    expect(parseClientMessage('bind-with-token t0k')).toEqual({ kind: 'token', token: 't0k' });
    expect(parseClientMessage('{"type":"bind-with-token","bindingToken":"t1"}')).toEqual({ kind: 'token', token: 't1' });
    expect(parseClientMessage('{"type":"bind-with-token","payload":{"token":"t2"}}')).toEqual({ kind: 'token', token: 't2' });
    expect(parseClientMessage('unbind abc')).toEqual({ kind: 'unbind', id: 'abc' });
    expect(parseClientMessage('ping')).toEqual({ kind: 'ping' });
    expect(parseClientMessage('hello world again')).toBeUndefined();
    expect(parseClientMessage('{not json')).toBeUndefined();
  });

  it("logs a client's broken protocol (a message over the size limit) at info, a failure of ours as an error; closes the socket either way", () => {
    const log = { info: vi.fn(), error: vi.fn() };
    const socket = { terminate: vi.fn() };
    const tooLarge = Object.assign(new RangeError('Max payload size exceeded'), { code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' });
    websocketError(tooLarge, socket as never, { log } as never);
    expect(log.info).toHaveBeenCalledTimes(1);
    websocketError(new Error('a bug'), socket as never, { log } as never);
    expect(log.error).toHaveBeenCalledTimes(1);
    expect(socket.terminate).toHaveBeenCalledTimes(2);
  });

  it('derives the websocket URL from the FHIR base', () => {
    expect(websocketUrl('http://localhost:8080/fhir')).toBe('ws://localhost:8080/fhir/subscriptions/ws');
    expect(websocketUrl('https://fhir.example.org/fhir')).toBe('wss://fhir.example.org/fhir/subscriptions/ws');
  });
});

describe('the rest of the pieces', () => {
  it('signs bodies with HMAC-SHA256, hex', () => {
    expect(signature('key', '{"a":1}')).toBe(`sha256=${createHmac('sha256', 'key').update('{"a":1}').digest('hex')}`);
  });

  it('stores the creator policy and compiles it back the same', () => {
    const policy = compilePolicy({
      iss: 'i', sub: 'u1', aud: 'a', exp: 0, iat: 0, jti: 'j', client_id: 'app',
      scope: 'user/Appointment.rs?actor=Practitioner/1 user/Subscription.cruds', role: 'practitioner', fhirUser: 'Practitioner/1',
    });
    const back = loadPolicy(JSON.parse(JSON.stringify(storePolicy(policy))));
    expect(back.scopes.map((s) => s.text)).toEqual(policy.scopes.map((s) => s.text));
    expect(back.scopes[0].query?.get('actor')).toBe('Practitioner/1');
    expect({ ...back, scopes: [] }).toEqual({ ...policy, scopes: [] });
  });

  it('keeps the scopes the server compiled itself (the fhirUser resource) and reads creators stored with scopes as text', () => {
    const policy = compilePolicy({ iss: 'i', sub: 'u1', aud: 'a', exp: 0, iat: 0, jti: 'j', client_id: 'app', scope: 'openid fhirUser', role: 'practitioner', fhirUser: 'Practitioner/1' });
    const back = loadPolicy(JSON.parse(JSON.stringify(storePolicy(policy))));
    expect(back.scopes).toEqual(policy.scopes);
    const earlier = loadPolicy({ clientId: 'app', admin: false, scopes: ['user/Appointment.rs', 'not a scope'] });
    expect(earlier.scopes.map((scope) => [scope.context, scope.resourceType, [...scope.permissions]])).toEqual([['user', 'Appointment', ['r', 's']]]);
  });
});

describe('the index-row prefilter of version matching', () => {
  it('decides exact token, reference and _id criteria and leaves every other criterion to the SQL', async () => {
    const { SearchEngine } = await import('../../src/search/index.js');
    const { extractIndexRows } = await import('../../src/search/extract/index.js');
    const { prefilterVerdict } = await import('../../src/search/prefilter.js');
    const base = 'http://fhir.test/fhir';
    const engine = new SearchEngine(base);
    const resource = {
      resourceType: 'Appointment' as const,
      id: 'a1',
      status: 'booked' as const,
      serviceType: [{ coding: [{ system: 'http://example.org/st', code: 'x-ray' }] }],
      participant: [{ actor: { reference: 'Practitioner/p1' }, status: 'accepted' as const }, { actor: { reference: `${base}/Patient/pat` }, status: 'accepted' as const }],
    };
    const rows = extractIndexRows(resource, engine.registry, base);
    const verdict = (query: string) => prefilterVerdict(engine.registry, 'Appointment', 'a1', rows, new URLSearchParams(query), base);
    expect(verdict('status=booked')).toBe('yes');
    expect(verdict('status=cancelled')).toBe('no');
    expect(verdict('status=cancelled,booked')).toBe('yes');
    expect(verdict('service-type=http://example.org/st|x-ray')).toBe('yes');
    expect(verdict('service-type=http://other|x-ray')).toBe('no');
    expect(verdict('service-type=|x-ray')).toBe('no');
    expect(verdict('actor=Practitioner/p1')).toBe('yes');
    expect(verdict('actor=p1')).toBe('yes');
    expect(verdict('actor=Practitioner/p2')).toBe('no');
    expect(verdict(`actor=${base}/Patient/pat`)).toBe('yes');
    expect(verdict('patient=Patient/pat')).toBe('yes');
    expect(verdict('_id=a1')).toBe('yes');
    expect(verdict('_id=a2')).toBe('no');
    expect(verdict('status=booked&actor=Practitioner/p1&_count=5')).toBe('yes');
    expect(verdict('status=booked&actor=Practitioner/p2')).toBe('no');
    // Anything else is left to the SQL: modifiers, chains, other types, unknown parameters, empty values.
    expect(verdict('status:not=booked')).toBe('maybe');
    expect(verdict('actor.name=x')).toBe('maybe');
    expect(verdict('date=2020')).toBe('maybe');
    expect(verdict('nonsense=1')).toBe('maybe');
    expect(verdict('status=booked,')).toBe('maybe');
    expect(verdict('status=booked&date=2020')).toBe('maybe');
  });
});

describe('the criteria sieve of the subscription matcher', () => {
  it('weighs a version only against criteria that name one of its exact values, and always against criteria without such a value', async () => {
    const { SearchEngine } = await import('../../src/search/index.js');
    const base = 'http://fhir.test/fhir';
    const engine = new SearchEngine(base);
    const sieve = engine.criteriaSieve<string>('Appointment');
    const criteria: Record<string, string> = {
      mine: 'actor=Practitioner/p1&status=booked',
      minePlain: 'actor=p1',
      either: 'actor=Practitioner/p9,Practitioner/p1',
      other: 'actor=Practitioner/p2&status=booked',
      cancelled: 'status=cancelled',
      dated: 'date=ge2020',
      everything: '',
      chained: 'actor.name=x',
    };
    const params = new Map(Object.entries(criteria).map(([name, query]) => [name, new URLSearchParams(query)]));
    for (const [name, query] of params) sieve.add(name, query);
    const booking = {
      resourceType: 'Appointment' as const,
      id: 'a1',
      status: 'booked' as const,
      participant: [{ actor: { reference: 'Practitioner/p1' }, status: 'accepted' as const }],
    };
    const candidates = [...sieve.candidates(engine.versionIndex(booking).index)].sort();
    expect(candidates).toEqual(['chained', 'dated', 'either', 'everything', 'mine', 'minePlain']);
    expect(sieve.stale).toBe(false);
    expect(sieve.size).toBe(8);

    for (const name of ['mine', 'everything', 'either']) sieve.remove(name, params.get(name) as URLSearchParams);
    expect([...sieve.candidates(engine.versionIndex(booking).index)].sort()).toEqual(['chained', 'dated', 'minePlain']);
    expect(sieve.size).toBe(5);
    sieve.remove('mine', params.get('mine') as URLSearchParams);
    expect(sieve.size).toBe(5);
  });
});

