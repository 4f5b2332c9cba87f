import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appointment,
  classicSubscription,
  eventNumbers,
  eventually,
  notificationType,
  parseJson,
  Receiver,
  sleep,
  statusValue,
  topicSubscription,
  TOPICS,
  WsClient,
} from '../subscriptions/support.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { adminEnv, adminToken } from './support/admin-token.js';
import { buildOnce, fhirFetch, startServerProcess, stopAllServerProcesses, type ServerProcess } from './support/server-process.js';

const FHIR = 'http://fhir.e2e/fhir';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Two server processes on one database behave as one server for subscriptions (CONTRACT.md). */
describe('subscriptions with two server processes', () => {
  let database: TestDatabase;
  let a: ServerProcess;
  let b: ServerProcess;
  let receiver: Receiver;
  let token: string;
  const clients: WsClient[] = [];

  beforeAll(async () => {
    await buildOnce();
    database = await createTestDatabase();
    receiver = await new Receiver().start();
    // One public origin for both, as behind a load balancer: tokens from one are good at the other.
    const env = { ...adminEnv(), BASE_URL: 'http://fhir.e2e', ALLOW_PRIVATE_CALLBACKS: 'true', SUBSCRIPTION_RETRY_BASE_MS: '100' };
    [a, b] = await Promise.all([startServerProcess({ databaseUrl: database.url, env }), startServerProcess({ databaseUrl: database.url, env })]);
    token = await adminToken(a.baseUrl);
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await stopAllServerProcesses();
    await receiver?.stop();
    await database?.drop();
  });

  const auth = () => ({ authorization: `Bearer ${token}` });
  const wsUrl = (server: ServerProcess) => `${server.baseUrl.replace(/^http/, 'ws')}/fhir/subscriptions/ws`;

  async function connect(server: ServerProcess): Promise<WsClient> {
    const client = await WsClient.connect(wsUrl(server), auth());
    clients.push(client);
    return client;
  }

  async function create(server: ServerProcess, resource: Record<string, unknown>) {
    const response = await fhirFetch(server.baseUrl, 'POST', String(resource.resourceType), resource, auth());
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body;
  }

  async function activeTopicSubscription(server: ServerProcess, tag: string, filter: string, extra: Parameters<typeof topicSubscription>[3] = {}) {
    const subscription = await create(server, topicSubscription(TOPICS.appointmentBooked, 'rest-hook', receiver.url, { headers: [`X-Sub: ${tag}`], filters: [filter], ...extra }));
    await eventually(async () => {
      const read = await fhirFetch(server.baseUrl, 'GET', `Subscription/${subscription.id}`, undefined, auth());
      return read.body.status === 'active' ? true : undefined;
    });
    return subscription;
  }

  it('sends a websocket client bound on A the changes written through B', async () => {
    const classic = await create(a, classicSubscription('Appointment?actor=Practitioner/two-ws', { type: 'websocket' }));
    const topic = await create(a, topicSubscription(TOPICS.appointmentBooked, 'websocket', undefined, { filters: ['Appointment?actor=Practitioner/two-ws'] }));
    const client = await connect(a);
    client.send(`bind ${classic.id}`);
    client.send(JSON.stringify({ type: 'bind', id: topic.id }));
    await client.waitFor((m) => m === `bound ${classic.id}`);
    await client.waitFor((m) => notificationType(parseJson(m)) === 'handshake');

    const written = await create(b, appointment('booked', ['Practitioner/two-ws']));
    await client.waitFor((m) => m === `ping ${classic.id}`);
    const [notification] = await client.waitFor((m) => notificationType(parseJson(m)) === 'event-notification');
    expect(parseJson(notification).entry[1].fullUrl).toBe(`${FHIR}/Appointment/${written.id}`);
  });

  it('delivers each rest-hook event once (not once per process), in event-number order', async () => {
    await activeTopicSubscription(a, 'two-once', 'Appointment?actor=Practitioner/two-once');
    const written: string[] = [];
    await Promise.all(
      [a, b].map(async (server) => {
        for (let i = 0; i < 15; i++) written.push((await create(server, appointment('booked', ['Practitioner/two-once']))).id);
      }),
    );
    const notifications = await receiver.waitFor((r) => r.headers['x-sub'] === 'two-once' && notificationType(r.json) === 'event-notification', 30, 30_000);
    await sleep(500);
    const all = receiver.received.filter((r) => r.headers['x-sub'] === 'two-once' && notificationType(r.json) === 'event-notification');
    expect(all).toHaveLength(30);
    expect(notifications.flatMap((n) => eventNumbers(n.json))).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(new Set(all.map((n) => n.json.entry[1].fullUrl))).toEqual(new Set(written.map((id) => `${FHIR}/Appointment/${id}`)));
  });

  it('lets a client that was bound on A and reconnects to B catch up with $events there', async () => {
    const subscription = await create(a, topicSubscription(TOPICS.appointmentBooked, 'websocket', undefined, { filters: ['Appointment?actor=Practitioner/two-away'] }));
    const first = await connect(a);
    first.send(`bind ${subscription.id}`);
    await first.waitFor((m) => notificationType(parseJson(m)) === 'handshake');
    await create(a, appointment('booked', ['Practitioner/two-away']));
    await first.waitFor((m) => notificationType(parseJson(m)) === 'event-notification');
    first.close();

    const missed = [await create(a, appointment('booked', ['Practitioner/two-away'])), await create(b, appointment('booked', ['Practitioner/two-away']))];
    await eventually(async () => {
      const status = await fhirFetch(b.baseUrl, 'GET', `Subscription/${subscription.id}/$status`, undefined, auth());
      return statusValue(status.body.entry[0].resource, 'events-since-subscription-start') === '3' ? true : undefined;
    });
    const second = await connect(b);
    second.send(`bind ${subscription.id}`);
    await second.waitFor((m) => notificationType(parseJson(m)) === 'handshake');
    const replay = await fhirFetch(b.baseUrl, 'GET', `Subscription/${subscription.id}/$events?eventsSinceNumber=2`, undefined, auth());
    expect(eventNumbers(replay.body)).toEqual([2, 3]);
    expect(replay.body.entry.slice(1).map((e: { fullUrl: string }) => e.fullUrl)).toEqual(missed.map((m) => `${FHIR}/Appointment/${m.id}`));
  });

  it('measures the time from commit to delivery (rest-hook and websocket)', async () => {
    await create(a, classicSubscription('Appointment?actor=Practitioner/latency', { type: 'rest-hook', endpoint: receiver.url, payload: 'application/fhir+json', header: ['X-Sub: latency'] }));
    const topic = await create(a, topicSubscription(TOPICS.appointmentBooked, 'websocket', undefined, { filters: ['Appointment?actor=Practitioner/latency'] }));
    const client = await connect(a);
    client.send(`bind ${topic.id}`);
    await client.waitFor((m) => notificationType(parseJson(m)) === 'handshake');
    const wsArrivals = new Map<string, number>();
    client.socket.on('message', (data) => {
      const bundle = parseJson(data.toString());
      if (notificationType(bundle) === 'event-notification') wsArrivals.set(String(bundle.entry[1].fullUrl).split('/').pop() as string, Date.now());
    });
    // Warm-up, then measured writes through B, about 20 per second.
    await create(b, appointment('booked', ['Practitioner/latency']));
    await receiver.waitFor((r) => r.headers['x-sub'] === 'latency');
    const committed = new Map<string, number>();
    const count = 60;
    for (let i = 0; i < count; i++) {
      const written = await create(b, appointment('booked', ['Practitioner/latency']));
      committed.set(written.id, Date.now());
      await sleep(50);
    }
    const hooks = await receiver.waitFor((r) => r.headers['x-sub'] === 'latency' && committed.has(r.json.id), count, 30_000);
    await eventually(async () => ([...committed.keys()].every((id) => wsArrivals.has(id)) ? true : undefined));
    const restHook = hooks.map((r) => r.at - (committed.get(r.json.id) as number)).sort((x, y) => x - y);
    const websocket = [...committed].map(([id, at]) => (wsArrivals.get(id) as number) - at).sort((x, y) => x - y);
    const summary = (values: number[]) => ({ p50: percentile(values, 50), p95: percentile(values, 95), p99: percentile(values, 99), max: values[values.length - 1] });
    console.log(`commit-to-delivery latency over ${count} writes through B (ms): rest-hook ${JSON.stringify(summary(restHook))}, websocket on A ${JSON.stringify(summary(websocket))}`);
    expect(percentile(restHook, 95)).toBeLessThan(1000);
    expect(percentile(websocket, 95)).toBeLessThan(1000);
  });
});
