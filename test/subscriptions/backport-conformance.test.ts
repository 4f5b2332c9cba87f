import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, startTestServer, type TestServer } from '../support/test-server.js';
import { appointment, eventually, notificationType, Receiver, topicSubscription, TOPICS, type Received } from './support.js';

const FHIR = 'http://fhir.test/fhir';
const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';
const TOPIC_CANONICAL = `${BACKPORT}/capabilitystatement-subscriptiontopic-canonical`;

/**
 * What the Inferno "Subscriptions R5 Backport IG v1.1.0 FHIR R4 Server" suite reads, as exact shapes:
 * topic discovery in the CapabilityStatement, the SubscriptionStatus of `empty` payloads, and the
 * refusal of a Subscription whose `_criteria` carries a filter extension the server does not know.
 */
describe('Backport IG conformance details', () => {
  let server: TestServer;
  let receiver: Receiver;

  beforeAll(async () => {
    server = await startTestServer({ ALLOW_PRIVATE_CALLBACKS: 'true', SUBSCRIPTION_RETRY_BASE_MS: '100' });
    receiver = await new Receiver().start();
  });

  afterAll(async () => {
    await receiver?.stop();
    await server?.close();
  });

  const tagged = (tag: string, type: string) => (r: Received) => r.headers['x-sub'] === tag && notificationType(r.json) === type;
  const parameterNames = (bundle: Received['json']) => bundle.entry[0].resource.parameter.map((p: { name: string }) => p.name);

  it('names every supported topic on the Subscription entry of the CapabilityStatement', async () => {
    const response = await fhirRequest(server.app, 'GET', 'fhir/metadata', undefined, { authorization: '' });
    expect(response.status).toBe(200);
    const subscription = response.body.rest[0].resource.find((r: { type: string }) => r.type === 'Subscription');
    const topics = subscription.extension.filter((e: { url: string }) => e.url === TOPIC_CANONICAL);
    expect(topics).toEqual(
      Object.values(TOPICS)
        .sort()
        .map((valueCanonical) => ({ url: TOPIC_CANONICAL, valueCanonical })),
    );
    expect(subscription.supportedProfile).toEqual(['http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription']);
  });

  it('leaves the topic out of the SubscriptionStatus of an empty payload, and keeps it for full-resource', async () => {
    const filters = ['Appointment?actor=Practitioner/conformance'];
    for (const [tag, content] of [
      ['c-empty', 'empty'],
      ['c-full', 'full-resource'],
    ] as const) {
      const created = await fhirRequest(server.app, 'POST', 'fhir/Subscription', topicSubscription(TOPICS.appointmentBooked, 'rest-hook', receiver.url, { content, filters, headers: [`X-Sub: ${tag}`] }));
      expect(created.status, created.text).toBe(201);
      // Events are matched once the handshake has made the subscription active.
      await eventually(async () => ((await fhirRequest(server.app, 'GET', `fhir/Subscription/${created.body.id}`)).body.status === 'active' ? true : undefined));
    }
    const [emptyHandshake] = await receiver.waitFor(tagged('c-empty', 'handshake'));
    expect(parameterNames(emptyHandshake.json)).toEqual(['subscription', 'status', 'type', 'events-since-subscription-start']);

    const booked = await fhirRequest(server.app, 'POST', 'fhir/Appointment', appointment('booked', ['Practitioner/conformance']));
    expect(booked.status, booked.text).toBe(201);

    const [empty] = await receiver.waitFor(tagged('c-empty', 'event-notification'));
    expect(empty.headers['content-type']).toBe('application/fhir+json');
    expect(empty.json.type).toBe('history');
    expect(empty.json.entry).toHaveLength(1);
    expect(parameterNames(empty.json)).toEqual(['subscription', 'status', 'type', 'events-since-subscription-start', 'notification-event']);

    const [full] = await receiver.waitFor(tagged('c-full', 'event-notification'));
    expect(full.json.entry[0].resource.parameter[1]).toEqual({ name: 'topic', valueCanonical: TOPICS.appointmentBooked });
    expect(full.json.entry[0].request).toEqual({ method: 'GET', url: expect.stringMatching(new RegExp(`^${FHIR}/Subscription/[^/]+/\\$status$`)) });
    expect(full.json.entry[1].resource).toMatchObject({ resourceType: 'Appointment', id: booked.body.id });
  });

  it('refuses a filter given with an extension it does not know instead of ignoring it', async () => {
    // What Inferno sends in "Server Handles Unsupported Cross-Version Extensions".
    const subscription = {
      ...topicSubscription(TOPICS.appointmentBooked, 'rest-hook', receiver.url),
      _criteria: { extension: [{ url: 'http://hl7.org/fhir/5.0/subscriptions-backport/StructureDefinition/backport-filter-criteria', valueString: 'Appointment?patient=Patient/123' }] },
    };
    const response = await fhirRequest(server.app, 'POST', 'fhir/Subscription', subscription);
    expect(response.status).toBe(400);
    expect(response.body.resourceType).toBe('OperationOutcome');
    expect(response.body.issue[0].expression).toEqual(['Subscription._criteria.extension[0]']);

    // Nothing was stored: no Subscription carries the unknown extension.
    const stored = await fhirRequest(server.app, 'GET', 'fhir/Subscription');
    expect(stored.status).toBe(200);
    expect(JSON.stringify(stored.body)).not.toContain('/5.0/subscriptions-backport/');
  });
});
