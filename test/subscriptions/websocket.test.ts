import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEventsOfMany } from '../../src/subscriptions/state.js';
import { fhirRequest, startTestServer, type TestServer } from '../support/test-server.js';
import { appointment, classicSubscription, eventNumbers, eventually, notificationType, parseJson, sleep, statusValue, topicSubscription, TOPICS, WsClient } from './support.js';

const FHIR = 'http://fhir.test/fhir';

/** The websocket channel, with a real websocket client (`ws`) on a listening server. */
describe('websocket subscriptions', () => {
  let server: TestServer;
  let wsUrl: string;
  const clients: WsClient[] = [];

  beforeAll(async () => {
    server = await startTestServer({ ALLOW_PRIVATE_CALLBACKS: 'true' });
    await server.app.listen({ port: 0, host: '127.0.0.1' });
    wsUrl = `ws://127.0.0.1:${(server.app.server.address() as AddressInfo).port}/fhir/subscriptions/ws`;
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await server?.close();
  });

  async function connect(headers: Record<string, string> = {}): Promise<WsClient> {
    const client = await WsClient.connect(wsUrl, headers);
    clients.push(client);
    return client;
  }

  const bearer = () => ({ authorization: `Bearer ${server.adminToken}` });

  async function create(resource: Record<string, unknown>) {
    const response = await fhirRequest(server.app, 'POST', `fhir/${resource.resourceType}`, resource);
    expect(response.status, response.text).toBe(201);
    return response.body;
  }

  it('is named in the CapabilityStatement, with the Subscription operations', async () => {
    const metadata = await fhirRequest(server.app, 'GET', 'fhir/metadata', undefined, { authorization: '' });
    const rest = metadata.body.rest[0];
    expect(rest.extension).toContainEqual({
      url: 'http://hl7.org/fhir/StructureDefinition/capabilitystatement-websocket',
      valueUri: 'ws://fhir.test/fhir/subscriptions/ws',
    });
    const subscription = rest.resource.find((r: { type: string }) => r.type === 'Subscription');
    const names = subscription.operation.map((o: { name: string }) => o.name);
    expect(names).toEqual(expect.arrayContaining(['status', 'events', 'get-ws-binding-token']));
    const patient = rest.resource.find((r: { type: string }) => r.type === 'Patient');
    expect(patient.operation.map((o: { name: string }) => o.name)).not.toContain('events');
  });

  it('classic: bind <id> with a bearer token on the upgrade, then ping <id> per match', async () => {
    const subscription = await create(classicSubscription('Appointment?actor=Practitioner/ws-classic', { type: 'websocket' }));
    expect(subscription.status).toBe('active');
    const client = await connect(bearer());
    client.send(`bind ${subscription.id}`);
    await client.waitFor((m) => m === `bound ${subscription.id}`);
    await create(appointment('booked', ['Practitioner/someone-else']));
    await create(appointment('booked', ['Practitioner/ws-classic']));
    await create(appointment('proposed', ['Practitioner/ws-classic']));
    const pings = await client.waitFor((m) => m === `ping ${subscription.id}`, 2);
    expect(pings).toHaveLength(2);
    await sleep(200);
    expect(client.messages.filter((m) => m.startsWith('ping'))).toHaveLength(2);
  });

  it('sends each of several bound subscriptions its own events, in order, when one write matches them all', async () => {
    const ids: string[] = [];
    for (let k = 0; k < 3; k++) ids.push((await create(classicSubscription('Appointment?actor=Practitioner/ws-many', { type: 'websocket' }))).id);
    const client = await connect(bearer());
    for (const id of ids) client.send(`bind ${id}`);
    await client.waitFor((m) => m.startsWith('bound '), 3);
    for (let k = 0; k < 4; k++) await create(appointment('booked', ['Practitioner/ws-many']));
    for (const id of ids) expect(await client.waitFor((m) => m === `ping ${id}`, 4)).toHaveLength(4);
    await sleep(200);
    expect(client.messages.filter((m) => m.startsWith('ping'))).toHaveLength(12);
  });

  it('reads for each subscription only its events after the number given, at most the limit, with the version when asked', async () => {
    const [first, second] = [
      (await create(classicSubscription('Appointment?actor=Practitioner/ws-read', { type: 'websocket' }))).id,
      (await create(classicSubscription('Appointment?actor=Practitioner/ws-read&status=booked', { type: 'websocket' }))).id,
    ];
    const booked = await create(appointment('booked', ['Practitioner/ws-read']));
    await create(appointment('proposed', ['Practitioner/ws-read']));
    await create(appointment('booked', ['Practitioner/ws-read']));
    await eventually(async () => {
      const [events] = await readEventsOfMany(server.db, [{ subscriptionId: first, after: 0, withFocus: false }], 10);
      return events.length === 3 ? events : undefined;
    });

    const [fromFirst, fromSecond, none] = await readEventsOfMany(
      server.db,
      [
        { subscriptionId: first, after: 1, withFocus: false },
        { subscriptionId: second, after: 0, withFocus: true },
        { subscriptionId: 'no-such-subscription', after: 0, withFocus: false },
      ],
      2,
    );
    expect(fromFirst.map((e) => e.eventNumber)).toEqual([2, 3]);
    expect(fromFirst.every((e) => e.subscriptionId === first && e.focus === undefined)).toBe(true);
    expect(fromSecond.map((e) => e.eventNumber)).toEqual([1, 2]);
    expect(fromSecond[0]).toMatchObject({ resourceId: booked.id, focus: { resourceType: 'Appointment', id: booked.id, status: 'booked' } });
    expect(none).toEqual([]);
  });

  it('refuses a bind without authentication, and an upgrade with a bad token', async () => {
    const subscription = await create(classicSubscription('Appointment?actor=Practitioner/ws-anon', { type: 'websocket' }));
    const anonymous = await connect();
    anonymous.send(`bind ${subscription.id}`);
    const [error] = await anonymous.waitFor((m) => m.startsWith('error'));
    expect(error).toMatch(/authentication required/);
    await expect(WsClient.connect(wsUrl, { authorization: 'Bearer not-a-token' })).rejects.toThrow(/401/);
    // A token that may not read Subscriptions cannot bind either.
    const other = await server.auth.tokens.issue({ sub: 'x', client_id: 'x', scope: 'system/Patient.rs' });
    const unauthorized = await connect({ authorization: `Bearer ${other}` });
    unauthorized.send(`bind ${subscription.id}`);
    expect((await unauthorized.waitFor((m) => m.startsWith('error')))[0]).toMatch(/not found/);
    await create(appointment('booked', ['Practitioner/ws-anon']));
    await sleep(300);
    expect([...anonymous.messages, ...unauthorized.messages].filter((m) => m.startsWith('ping'))).toEqual([]);
  });

  it('answers a bind of something that is no Subscription id (a NUL, 70 characters) with an error, and stays usable', async () => {
    const subscription = await create(classicSubscription('Appointment?actor=Practitioner/ws-odd', { type: 'websocket' }));
    const client = await connect(bearer());
    client.send('bind a\u0000b');
    client.send(`bind ${'x'.repeat(70)}`);
    client.send('unbind a\u0000b');
    const errors = await client.waitFor((m) => m.startsWith('error'), 3);
    expect(errors).toEqual(['error not a Subscription id', 'error not a Subscription id', 'error not a Subscription id']);
    client.send(`bind ${subscription.id}`);
    await client.waitFor((m) => m === `bound ${subscription.id}`);
  });

  it('topic-based: $get-ws-binding-token, bind-with-token (text and JSON forms), handshake, notifications', async () => {
    const created = await fhirRequest(
      server.app,
      'POST',
      'fhir/Subscription',
      topicSubscription(TOPICS.appointmentBooked, 'websocket', undefined, { content: 'full-resource', filters: ['Appointment?actor=Practitioner/ws-topic'] }),
    );
    expect(created.status, created.text).toBe(201);
    expect(created.body.status).toBe('active');
    const id = created.body.id;
    const token = await fhirRequest(server.app, 'GET', `fhir/Subscription/${id}/$get-ws-binding-token`);
    expect(token.status, token.text).toBe(200);
    const value = (name: string) => token.body.parameter.find((p: { name: string }) => p.name === name);
    expect(value('websocket-url').valueUrl).toBe('ws://fhir.test/fhir/subscriptions/ws');
    expect(value('subscription').valueString).toBe(`${FHIR}/Subscription/${id}`);
    expect(new Date(value('expiration').valueDateTime).getTime()).toBeGreaterThan(Date.now());
    const bindingToken = value('token').valueString;

    const text = await connect();
    text.send(`bind-with-token ${bindingToken}`);
    const igJson = await connect();
    igJson.send(JSON.stringify({ type: 'bind-with-token', bindingToken }));
    const medplumJson = await connect();
    medplumJson.send(JSON.stringify({ type: 'bind-with-token', payload: { token: bindingToken } }));
    for (const client of [text, igJson, medplumJson]) {
      const [handshake] = await client.waitFor((m) => notificationType(parseJson(m)) === 'handshake');
      expect(statusValue(parseJson(handshake).entry[0].resource, 'subscription')).toBe(`${FHIR}/Subscription/${id}`);
    }

    const booked = await create(appointment('booked', ['Practitioner/ws-topic']));
    for (const client of [text, igJson, medplumJson]) {
      const [message] = await client.waitFor((m) => notificationType(parseJson(m)) === 'event-notification');
      const bundle = parseJson(message);
      expect(bundle.type).toBe('history');
      expect(eventNumbers(bundle)).toEqual([1]);
      expect(bundle.entry[1].resource).toMatchObject({ resourceType: 'Appointment', id: booked.id });
    }
  });

  it('lets a client that reconnects catch up with $events', async () => {
    const created = await fhirRequest(
      server.app,
      'POST',
      'fhir/Subscription',
      topicSubscription(TOPICS.appointmentBooked, 'websocket', undefined, { filters: ['Appointment?actor=Practitioner/ws-away'] }),
    );
    const id = created.body.id;
    const client = await connect(bearer());
    client.send(`bind ${id}`);
    await client.waitFor((m) => notificationType(parseJson(m)) === 'handshake');
    await create(appointment('booked', ['Practitioner/ws-away']));
    const [first] = await client.waitFor((m) => notificationType(parseJson(m)) === 'event-notification');
    const lastSeen = eventNumbers(parseJson(first))[0];
    client.close();

    const missed = [];
    for (let i = 0; i < 3; i++) missed.push(await create(appointment('booked', ['Practitioner/ws-away'])));
    // The changes are matched after their commit: wait until all three are events.
    await eventually(async () => {
      const status = await fhirRequest(server.app, 'GET', `fhir/Subscription/${id}/$status`);
      return statusValue(status.body.entry[0].resource, 'events-since-subscription-start') === '4' ? true : undefined;
    });
    const again = await connect(bearer());
    again.send(`bind ${id}`);
    const [handshake] = await again.waitFor((m) => notificationType(parseJson(m)) === 'handshake');
    // The handshake tells how far the events went; $events fills the gap.
    const total = Number(statusValue(parseJson(handshake).entry[0].resource, 'events-since-subscription-start'));
    expect(total).toBe(4);
    const replay = await fhirRequest(server.app, 'GET', `fhir/Subscription/${id}/$events?eventsSinceNumber=${lastSeen + 1}`);
    expect(eventNumbers(replay.body)).toEqual([2, 3, 4]);
    expect(replay.body.entry.slice(1).map((e: { fullUrl: string }) => e.fullUrl)).toEqual(missed.map((m) => `${FHIR}/Appointment/${m.id}`));
    // And from then on it gets the new ones live.
    await create(appointment('booked', ['Practitioner/ws-away']));
    const [live] = await again.waitFor((m) => notificationType(parseJson(m)) === 'event-notification');
    expect(eventNumbers(parseJson(live))).toEqual([5]);
  });

  it('sends heartbeats on a quiet websocket', async () => {
    const created = await fhirRequest(
      server.app,
      'POST',
      'fhir/Subscription',
      topicSubscription(TOPICS.invoiceIssued, 'websocket', undefined, { heartbeat: 1, filters: ['Invoice?patient=Patient/quiet'] }),
    );
    const client = await connect(bearer());
    client.send(`bind ${created.body.id}`);
    const beats = await client.waitFor((m) => notificationType(parseJson(m)) === 'heartbeat', 2, 10_000);
    expect(beats).toHaveLength(2);
  });

  it("sends notifications to the subscription's creator (or an administrator), not to everyone who may read it", async () => {
    const creator = await server.auth.tokens.issue({ sub: 'creator', client_id: 'creator-app', scope: 'system/Subscription.cruds system/Appointment.rs' });
    const reader = await server.auth.tokens.issue({ sub: 'reader', client_id: 'reader-app', scope: 'system/Subscription.rs system/Appointment.rs' });
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    const created = await fhirRequest(server.app, 'POST', 'fhir/Subscription', topicSubscription(TOPICS.appointmentBooked, 'websocket', undefined), as(creator));
    expect(created.status, created.text).toBe(201);
    const id = created.body.id;

    expect((await fhirRequest(server.app, 'GET', `fhir/Subscription/${id}`, undefined, as(reader))).status).toBe(200);
    expect((await fhirRequest(server.app, 'GET', `fhir/Subscription/${id}/$status`, undefined, as(reader))).status).toBe(200);
    expect((await fhirRequest(server.app, 'GET', `fhir/Subscription/${id}/$events`, undefined, as(reader))).status).toBe(403);
    expect((await fhirRequest(server.app, 'GET', `fhir/Subscription/${id}/$get-ws-binding-token`, undefined, as(reader))).status).toBe(403);
    const stranger = await connect(as(reader));
    stranger.send(`bind ${id}`);
    expect((await stranger.waitFor((m) => m.startsWith('error')))[0]).toMatch(/created the subscription/);

    expect((await fhirRequest(server.app, 'GET', `fhir/Subscription/${id}/$events`, undefined, as(creator))).status).toBe(200);
    const owner = await connect(as(creator));
    owner.send(`bind ${id}`);
    await owner.waitFor((m) => notificationType(parseJson(m)) === 'handshake');
  });

  it('binds a token only to the subscriptions it was issued for', async () => {
    const mine = await fhirRequest(server.app, 'POST', 'fhir/Subscription', topicSubscription(TOPICS.appointmentBooked, 'websocket', undefined));
    const rest = await fhirRequest(server.app, 'POST', 'fhir/Subscription', classicSubscription('Appointment?status=booked', { type: 'rest-hook', endpoint: 'http://127.0.0.1:9/x' }));
    expect((await fhirRequest(server.app, 'GET', `fhir/Subscription/${rest.body.id}/$get-ws-binding-token`)).status).toBe(400);
    expect((await fhirRequest(server.app, 'GET', 'fhir/Subscription/$get-ws-binding-token')).status).toBe(400);
    const token = await fhirRequest(server.app, 'POST', 'fhir/Subscription/$get-ws-binding-token', {
      resourceType: 'Parameters',
      parameter: [{ name: 'id', valueId: mine.body.id }],
    });
    expect(token.status, token.text).toBe(200);
    const client = await connect();
    client.send('bind-with-token not-a-real-token');
    expect((await client.waitFor((m) => m.startsWith('error')))[0]).toMatch(/invalid or expired/);
    client.send(`bind ${rest.body.id}`);
    expect((await client.waitFor((m) => m.startsWith('error'), 2))[1]).toMatch(/authentication required/);
  });
});
