
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, startTestServer, type TestServer } from '../support/test-server.js';
import {
  appointment,
  eventNumbers,
  eventually,
  notificationType,
  Receiver,
  sleep,
  statusValue,
  topicSubscription,
  TOPICS,
  type Received,
  type TopicOptions,
} from './support.js';

const FHIR = 'http://fhir.test/fhir';
const TOPIC_TYPE = 'http://hl7.org/fhir/fhir-types|SubscriptionTopic';
const NOTIFICATION_PROFILE = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-notification-r4';

/** Topic-based subscriptions (Subscriptions R5 Backport IG, STU 1.1, on R4) with the rest-hook channel. */
describe('topic-based rest-hook subscriptions', () => {
  let server: TestServer;
  let receiver: Receiver;

  beforeAll(async () => {
    server = await startTestServer({ ALLOW_PRIVATE_CALLBACKS: 'true', SUBSCRIPTION_RETRY_BASE_MS: '100', SUBSCRIPTION_MAX_ATTEMPTS: '20' });
    receiver = await new Receiver().start();
  });

  afterAll(async () => {
    await receiver?.stop();
    await server?.close();
  });

  const tagged = (tag: string, type?: string) => (r: Received) => r.headers['x-sub'] === tag && (!type || notificationType(r.json) === type);

  /** Subscribes and waits for the handshake and the status `active`. */
  async function subscribe(tag: string, topic: string, options: TopicOptions = {}) {
    const response = await fhirRequest(server.app, 'POST', 'fhir/Subscription', topicSubscription(topic, 'rest-hook', receiver.url, { ...options, headers: [`X-Sub: ${tag}`] }));
    expect(response.status, response.text).toBe(201);
    expect(response.body.status).toBe('requested');
    const [handshake] = await receiver.waitFor(tagged(tag, 'handshake'));
    const status = handshake.json.entry[0].resource;
    expect(statusValue(status, 'subscription')).toBe(`${FHIR}/Subscription/${response.body.id}`);
    // The IG: the topic SHOULD NOT be present with empty payloads (backport-subscription-status-r4).
    expect(statusValue(status, 'topic')).toBe(options.content === 'empty' ? undefined : topic);
    expect(statusValue(status, 'events-since-subscription-start')).toBe('0');
    await eventually(async () => {
      const read = await fhirRequest(server.app, 'GET', `fhir/Subscription/${response.body.id}`);
      return read.body.status === 'active' ? true : undefined;
    });
    return response.body;
  }

  async function create(resource: Record<string, unknown>) {
    const response = await fhirRequest(server.app, 'POST', `fhir/${resource.resourceType}`, resource);
    expect(response.status, response.text).toBe(201);
    return response.body;
  }

  async function update(resource: Record<string, unknown>) {
    const response = await fhirRequest(server.app, 'PUT', `fhir/${resource.resourceType}/${resource.id}`, resource);
    expect(response.status, response.text).toBe(200);
    return response.body;
  }

  it('serves the clinic topics as Basic resources, searchable by code', async () => {
    const search = await fhirRequest(server.app, 'GET', `fhir/Basic?code=${encodeURIComponent(TOPIC_TYPE)}`);
    expect(search.status).toBe(200);
    const urls = search.body.entry.map((e: { resource: { extension: { url: string; valueUri?: string }[] } }) =>
      e.resource.extension.find((x) => x.url.endsWith('SubscriptionTopic.url'))?.valueUri,
    );
    expect(urls.sort()).toEqual(Object.values(TOPICS).sort());
    const booked = await fhirRequest(server.app, 'GET', 'fhir/Basic/appointment-booked');
    expect(booked.body.code.coding[0]).toEqual({ system: 'http://hl7.org/fhir/fhir-types', code: 'SubscriptionTopic' });
  });

  it('lets only administrators create or change topics', async () => {
    const topic = {
      resourceType: 'Basic',
      code: { coding: [{ system: 'http://hl7.org/fhir/fhir-types', code: 'SubscriptionTopic' }] },
      extension: [
        { url: 'http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.url', valueUri: 'http://example.org/topic/x' },
        {
          url: 'http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic.resourceTrigger',
          extension: [{ url: 'resource', valueUri: 'Patient' }],
        },
      ],
    };
    const writer = await server.auth.tokens.issue({ sub: 'w', client_id: 'writer', scope: 'system/Basic.cruds' });
    const refused = await fhirRequest(server.app, 'POST', 'fhir/Basic', topic, { authorization: `Bearer ${writer}` });
    expect(refused.status).toBe(403);
    const changed = await fhirRequest(server.app, 'PUT', 'fhir/Basic/appointment-booked', { ...topic, id: 'appointment-booked' }, { authorization: `Bearer ${writer}` });
    expect(changed.status).toBe(403);
    // An ordinary Basic is not a topic: no rule applies.
    const plain = await fhirRequest(server.app, 'POST', 'fhir/Basic', { resourceType: 'Basic', code: { text: 'note' } }, { authorization: `Bearer ${writer}` });
    expect(plain.status).toBe(201);
    const invalid = await fhirRequest(server.app, 'POST', 'fhir/Basic', { ...topic, extension: topic.extension.slice(1) });
    expect(invalid.status).toBe(400);
    const created = await fhirRequest(server.app, 'POST', 'fhir/Basic', topic);
    expect(created.status).toBe(201);
  });

  it('refuses an unknown topic, a filter on another type, and a filter the topic cannot filter by', async () => {
    for (const [topic, filters] of [
      ['http://example.org/no-such-topic', []],
      [TOPICS.appointmentBooked, ['Patient?name=x']],
      [TOPICS.appointmentBooked, ['Appointment?status=booked']],
      [TOPICS.appointmentBooked, ['Appointment?actor:nonsense=x']],
    ] as const) {
      const response = await fhirRequest(server.app, 'POST', 'fhir/Subscription', topicSubscription(topic, 'rest-hook', receiver.url, { filters: [...filters] }));
      expect(response.status, `${topic} ${filters.join()}`).toBe(400);
    }
  });

  it('handshakes, then sends event notifications (history Bundle, SubscriptionStatus first, id-only)', async () => {
    const subscription = await subscribe('booked', TOPICS.appointmentBooked, { filters: ['Appointment?actor=Practitioner/booked'] });
    await create(appointment('proposed', ['Practitioner/booked'])); // not booked
    await create(appointment('booked', ['Practitioner/other'])); // filtered out
    const booked = await create(appointment('booked', ['Practitioner/booked']));
    await update({ ...booked, comment: 'still booked' }); // was booked already: no event

    const [notification] = await receiver.waitFor(tagged('booked', 'event-notification'));
    const bundle = notification.json;
    expect(notification.headers['content-type']).toBe('application/fhir+json');
    expect(bundle.resourceType).toBe('Bundle');
    expect(bundle.type).toBe('history');
    expect(bundle.meta.profile).toEqual([NOTIFICATION_PROFILE]);
    const status = bundle.entry[0].resource;
    expect(status.resourceType).toBe('Parameters');
    expect(statusValue(status, 'status')).toBe('active');
    expect(statusValue(status, 'type')).toBe('event-notification');
    expect(statusValue(status, 'events-since-subscription-start')).toBe('1');
    const event = status.parameter.find((p: { name: string }) => p.name === 'notification-event');
    expect(event.part.find((p: { name: string }) => p.name === 'event-number').valueString).toBe('1');
    expect(event.part.find((p: { name: string }) => p.name === 'timestamp').valueInstant).toBe(booked.meta.lastUpdated);
    expect(event.part.find((p: { name: string }) => p.name === 'focus').valueReference.reference).toBe(`${FHIR}/Appointment/${booked.id}`);
    expect(bundle.entry[1]).toMatchObject({ fullUrl: `${FHIR}/Appointment/${booked.id}`, request: { method: 'POST', url: `Appointment/${booked.id}` } });
    expect(bundle.entry[1].resource).toBeUndefined();

    // Cancelled later: another topic's business; this one stays at one event.
    await sleep(300);
    expect(receiver.received.filter(tagged('booked', 'event-notification'))).toHaveLength(1);
    const { rows } = await server.db.query('SELECT events_since_start FROM subscription_state WHERE id = $1', [subscription.id]);
    expect(Number(rows[0].events_since_start)).toBe(1);
  });

  it('sends the resource with full-resource and nothing about it with empty', async () => {
    await subscribe('full', TOPICS.appointmentCancelled, { content: 'full-resource', filters: ['Appointment?actor=Practitioner/payloads'] });
    await subscribe('empty', TOPICS.appointmentCancelled, { content: 'empty', filters: ['Appointment?actor=Practitioner/payloads'] });
    const booked = await create(appointment('booked', ['Practitioner/payloads']));
    const cancelled = await update({ ...booked, status: 'cancelled', cancelationReason: { text: 'patient request' } });
    await update({ ...cancelled, comment: 'cancelled again' }); // no new event: it was cancelled already

    const [full] = await receiver.waitFor(tagged('full', 'event-notification'));
    expect(full.json.entry[1].resource).toMatchObject({ resourceType: 'Appointment', id: booked.id, status: 'cancelled', meta: { versionId: '2' } });
    expect(full.json.entry[1].request).toEqual({ method: 'PUT', url: `Appointment/${booked.id}` });

    const [empty] = await receiver.waitFor(tagged('empty', 'event-notification'));
    expect(empty.json.entry).toHaveLength(1);
    const event = empty.json.entry[0].resource.parameter.find((p: { name: string }) => p.name === 'notification-event');
    expect(event.part.map((p: { name: string }) => p.name)).toEqual(['event-number', 'timestamp']);
    expect(JSON.stringify(empty.json)).not.toContain(booked.id);
  });

  it('ships the medication request and invoice topics', async () => {
    await subscribe('mr-created', TOPICS.medicationRequestCreated, { filters: ['MedicationRequest?patient=Patient/mr'] });
    await subscribe('mr-status', TOPICS.medicationRequestStatusChanged, { filters: ['MedicationRequest?patient=Patient/mr'] });
    await subscribe('invoice', TOPICS.invoiceIssued, { filters: ['Invoice?patient=Patient/mr'] });
    const request = await create({
      resourceType: 'MedicationRequest',
      status: 'active',
      intent: 'order',
      subject: { reference: 'Patient/mr' },
      medicationCodeableConcept: { text: 'amoxicillin' },
    });
    await update({ ...request, note: [{ text: 'same status' }] });
    await update({ ...request, status: 'completed' });
    const draft = await create({ resourceType: 'Invoice', status: 'draft', subject: { reference: 'Patient/mr' } });
    await update({ ...draft, status: 'issued' });

    const [created] = await receiver.waitFor(tagged('mr-created', 'event-notification'));
    expect(created.json.entry[1].fullUrl).toBe(`${FHIR}/MedicationRequest/${request.id}`);
    const [changed] = await receiver.waitFor(tagged('mr-status', 'event-notification'));
    expect(changed.json.entry[1].request.method).toBe('PUT');
    const [issued] = await receiver.waitFor(tagged('invoice', 'event-notification'));
    expect(issued.json.entry[1].fullUrl).toBe(`${FHIR}/Invoice/${draft.id}`);
    await sleep(300);
    expect(receiver.received.filter(tagged('mr-status', 'event-notification'))).toHaveLength(1);
    expect(receiver.received.filter(tagged('mr-created', 'event-notification'))).toHaveLength(1);
  });

  it('answers $status (instance and type level) and replays events with $events', async () => {
    const subscription = await subscribe('replay', TOPICS.appointmentBooked, { filters: ['Appointment?actor=Practitioner/replay'] });
    const written = [];
    for (let i = 0; i < 4; i++) written.push(await create(appointment('booked', ['Practitioner/replay'])));
    await receiver.waitFor(tagged('replay', 'event-notification'), 4);

    const status = await fhirRequest(server.app, 'GET', `fhir/Subscription/${subscription.id}/$status`);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
    expect(statusValue(status.body.entry[0].resource, 'type')).toBe('query-status');
    expect(statusValue(status.body.entry[0].resource, 'events-since-subscription-start')).toBe('4');
    const typeLevel = await fhirRequest(server.app, 'GET', `fhir/Subscription/$status?id=${subscription.id}`);
    expect(typeLevel.body.entry).toHaveLength(1);

    const replay = await fhirRequest(server.app, 'GET', `fhir/Subscription/${subscription.id}/$events?eventsSinceNumber=2&eventsUntilNumber=3`);
    expect(replay.status).toBe(200);
    expect(replay.body.type).toBe('history');
    expect(statusValue(replay.body.entry[0].resource, 'type')).toBe('query-event');
    expect(eventNumbers(replay.body)).toEqual([2, 3]);
    expect(replay.body.entry.slice(1).map((e: { fullUrl: string }) => e.fullUrl)).toEqual([
      `${FHIR}/Appointment/${written[1].id}`,
      `${FHIR}/Appointment/${written[2].id}`,
    ]);
    const full = await fhirRequest(server.app, 'POST', `fhir/Subscription/${subscription.id}/$events`, {
      resourceType: 'Parameters',
      parameter: [{ name: 'eventsSinceNumber', valueString: '4' }, { name: 'content', valueCode: 'full-resource' }],
    });
    expect(eventNumbers(full.body)).toEqual([4]);
    expect(full.body.entry[1].resource.id).toBe(written[3].id);
    const bad = await fhirRequest(server.app, 'GET', `fhir/Subscription/${subscription.id}/$events?eventsSinceNumber=abc`);
    expect(bad.status).toBe(400);
    // Not on other types.
    expect((await fhirRequest(server.app, 'GET', `fhir/Patient/x/$events`)).status).toBe(404);
  });

  it('sends heartbeats when nothing else was sent for heartbeat-period seconds', async () => {
    await subscribe('heartbeat', TOPICS.invoiceIssued, { heartbeat: 1, filters: ['Invoice?patient=Patient/nobody'] });
    const beats = await receiver.waitFor(tagged('heartbeat', 'heartbeat'), 2, 10_000);
    expect(statusValue(beats[0].json.entry[0].resource, 'events-since-subscription-start')).toBe('0');
    expect(beats[1].at - beats[0].at).toBeGreaterThanOrEqual(900);
  });

  it('puts up to max-count waiting events in one notification, in order', async () => {
    let accept = false;
    const previous = receiver.respond;
    receiver.respond = (request) => (request.headers['x-sub'] === 'batched' && notificationType(request.json) === 'event-notification' && !accept ? 503 : previous(request));
    try {
      const subscription = await subscribe('batched', TOPICS.appointmentBooked, { maxCount: 5, filters: ['Appointment?actor=Practitioner/batched'] });
      const shape = await server.db.query('SELECT events_per_notification, with_focus FROM subscription_state WHERE id = $1', [subscription.id]);
      expect(shape.rows).toEqual([{ events_per_notification: 5, with_focus: false }]);
      for (let i = 0; i < 3; i++) await create(appointment('booked', ['Practitioner/batched']));
      await eventually(async () => {
        const { rows } = await server.db.query(`SELECT count(*) AS n FROM subscription_event e JOIN resource r ON r.resource_type = 'Subscription' AND r.id = e.subscription_id
          WHERE r.content -> 'channel' -> 'header' ->> 0 = 'X-Sub: batched'`);
        return Number(rows[0].n) === 3 ? true : undefined;
      });
      accept = true;
      const [notification] = await receiver.waitFor(tagged('batched', 'event-notification'));
      expect(eventNumbers(notification.json)).toEqual([1, 2, 3]);
      expect(notification.json.entry).toHaveLength(4);
    } finally {
      receiver.respond = previous;
    }
  });

  it('evaluates query criteria on the previous and current versions, and delete triggers', async () => {
    const topicUrl = 'http://example.org/topic/patient-deactivated';
    const topic = await fhirRequest(server.app, 'POST', 'fhir/Basic', {
      resourceType: 'Basic',
      code: { coding: [{ system: 'http://hl7.org/fhir/fhir-types', code: 'SubscriptionTopic' }] },
      extension: [
        { url: 'http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.url', valueUri: topicUrl },
        {
          url: 'http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic.resourceTrigger',
          extension: [
            { url: 'resource', valueUri: 'http://hl7.org/fhir/StructureDefinition/Patient' },
            { url: 'supportedInteraction', valueCode: 'update' },
            { url: 'supportedInteraction', valueCode: 'delete' },
            {
              url: 'queryCriteria',
              extension: [
                { url: 'previous', valueString: 'active=true' },
                { url: 'current', valueString: 'active=false' },
                { url: 'resultForDelete', valueCode: 'test-passes' },
                { url: 'requireBoth', valueBoolean: true },
              ],
            },
          ],
        },
      ],
    });
    expect(topic.status, topic.text).toBe(201);
    const subscription = await subscribe('deactivated', topicUrl, { content: 'full-resource', filters: ['Patient?family=Query'] });
    const first = await create({ resourceType: 'Patient', active: true, name: [{ family: 'Query' }] }); // create: not a trigger
    const deactivated = await update({ ...first, active: false }); // true -> false: event 1
    await update({ ...deactivated, gender: 'other' }); // false -> false: no event
    const second = await create({ resourceType: 'Patient', active: true, name: [{ family: 'Query' }] });
    await create({ resourceType: 'Patient', active: true, name: [{ family: 'Other' }] });
    expect((await fhirRequest(server.app, 'DELETE', `fhir/Patient/${second.id}`)).status).toBe(200); // delete of an active one: event 2

    const received = await receiver.waitFor(tagged('deactivated', 'event-notification'), 2);
    expect(received.map((r) => eventNumbers(r.json)[0])).toEqual([1, 2]);
    expect(received[0].json.entry[1].resource).toMatchObject({ id: first.id, active: false, meta: { versionId: '2' } });
    expect(received[1].json.entry[1]).toMatchObject({ fullUrl: `${FHIR}/Patient/${second.id}`, request: { method: 'DELETE' } });
    expect(received[1].json.entry[1].resource).toBeUndefined();
    await sleep(300);
    const replay = await fhirRequest(server.app, 'GET', `fhir/Subscription/${subscription.id}/$events`);
    expect(eventNumbers(replay.body)).toEqual([1, 2]);
  });

  it('reaches error when the handshake is never accepted', async () => {
    const previous = receiver.respond;
    receiver.respond = (request) => (request.headers['x-sub'] === 'no-handshake' ? 400 : previous(request));
    const local = await startTestServer({ ALLOW_PRIVATE_CALLBACKS: 'true', SUBSCRIPTION_RETRY_BASE_MS: '20', SUBSCRIPTION_MAX_ATTEMPTS: '2' });
    try {
      const response = await fhirRequest(
        local.app,
        'POST',
        'fhir/Subscription',
        topicSubscription(TOPICS.appointmentBooked, 'rest-hook', receiver.url, { headers: ['X-Sub: no-handshake'] }),
      );
      const failed = await eventually(async () => {
        const read = await fhirRequest(local.app, 'GET', `fhir/Subscription/${response.body.id}`);
        return read.body.status === 'error' ? read.body : undefined;
      });
      expect(failed.error).toMatch(/2 times/);
      expect(receiver.failures.filter((r) => r.headers['x-sub'] === 'no-handshake').map((r) => notificationType(r.json))).toEqual(['handshake', 'handshake']);
    } finally {
      receiver.respond = previous;
      await local.close();
    }
  });
});

