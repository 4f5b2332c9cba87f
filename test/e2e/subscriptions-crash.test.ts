import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appointment, classicSubscription, eventually, Receiver, sleep, topicSubscription, TOPICS } from '../subscriptions/support.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { adminEnv, adminToken } from './support/admin-token.js';
import { buildOnce, fhirFetch, startServerProcess, stopAllServerProcesses, type ServerProcess } from './support/server-process.js';

/** The matcher's advisory lock (src/subscriptions/matcher.ts): holding it keeps every process from matching. */
const MATCHER_LOCK = 7_254_005;

/**
 * A notification survives the death of the process (kill -9) at any point after the commit: before
 * the change was matched, and after it was matched but before it could be delivered.
 */
describe('subscriptions across a crash (kill -9) of the server process', () => {
  let database: TestDatabase;
  let pool: pg.Pool;
  let receiver: Receiver;
  let server: ServerProcess;
  let token: string;
  const env = () => ({
    ...adminEnv(),
    BASE_URL: 'http://fhir.e2e',
    ALLOW_PRIVATE_CALLBACKS: 'true',
    SUBSCRIPTION_RETRY_BASE_MS: '100',
    SUBSCRIPTION_MAX_ATTEMPTS: '100',
  });

  beforeAll(async () => {
    await buildOnce();
    database = await createTestDatabase();
    pool = new pg.Pool({ connectionString: database.url, max: 3 });
    pool.on('error', () => undefined);
    receiver = await new Receiver().start();
    server = await startServerProcess({ databaseUrl: database.url, env: env() });
    token = await adminToken(server.baseUrl);
  });

  afterAll(async () => {
    await stopAllServerProcesses();
    await receiver?.stop().catch(() => undefined);
    await pool?.end();
    await database?.drop();
  });

  const auth = () => ({ authorization: `Bearer ${token}` });

  async function killHard(): Promise<void> {
    server.process.kill('SIGKILL');
    const exit = await server.exited;
    expect(exit.signal).toBe('SIGKILL');
  }

  async function restart(): Promise<void> {
    server = await startServerProcess({ databaseUrl: database.url, env: env() });
  }

  async function eventCount(id: string): Promise<number> {
    const { rows } = await pool.query('SELECT events_since_start AS n FROM subscription_state WHERE id = $1', [id]);
    return Number(rows[0]?.n ?? 0);
  }

  it('delivers a change committed before it was matched', async () => {
    const subscription = await fhirFetch(
      server.baseUrl,
      'POST',
      'Subscription',
      classicSubscription('Appointment?actor=Practitioner/crash-1', { type: 'rest-hook', endpoint: receiver.url, payload: 'application/fhir+json', header: ['X-Sub: crash-1'] }),
      auth(),
    );
    expect(subscription.status).toBe(201);
    // Nobody may match while the test holds the matcher's lock: the change stays only in the feed.
    const holder = await pool.connect();
    await holder.query('SELECT pg_advisory_lock($1)', [MATCHER_LOCK]);
    let written;
    try {
      written = await fhirFetch(server.baseUrl, 'POST', 'Appointment', appointment('booked', ['Practitioner/crash-1']), auth());
      expect(written.status).toBe(201);
      await sleep(300);
      expect(await eventCount(subscription.body.id)).toBe(0);
      await killHard();
    } finally {
      await holder.query('SELECT pg_advisory_unlock($1)', [MATCHER_LOCK]);
      holder.release();
    }
    await restart();
    const [received] = await receiver.waitFor((r) => r.headers['x-sub'] === 'crash-1', 1, 30_000);
    expect(received.json.id).toBe(written.body.id);
    await sleep(300);
    expect(receiver.received.filter((r) => r.headers['x-sub'] === 'crash-1')).toHaveLength(1);
  });

  it('delivers a matched change whose endpoint was down when the process died', async () => {
    const subscription = await fhirFetch(
      server.baseUrl,
      'POST',
      'Subscription',
      topicSubscription(TOPICS.appointmentBooked, 'rest-hook', receiver.url, { headers: ['X-Sub: crash-2'], filters: ['Appointment?actor=Practitioner/crash-2'] }),
      auth(),
    );
    expect(subscription.status).toBe(201);
    await receiver.waitFor((r) => r.headers['x-sub'] === 'crash-2', 1, 30_000); // the handshake
    await eventually(async () => {
      const read = await fhirFetch(server.baseUrl, 'GET', `Subscription/${subscription.body.id}`, undefined, auth());
      return read.body.status === 'active' ? true : undefined;
    });

    await receiver.down();
    const written = await fhirFetch(server.baseUrl, 'POST', 'Appointment', appointment('booked', ['Practitioner/crash-2']), auth());
    expect(written.status).toBe(201);
    // Matched and stored as event 1; deliveries fail while the endpoint is down.
    await eventually(async () => ((await eventCount(subscription.body.id)) === 1 ? true : undefined));
    await eventually(async () => {
      const { rows } = await pool.query('SELECT attempts FROM subscription_state WHERE id = $1', [subscription.body.id]);
      return rows[0].attempts >= 1 ? true : undefined;
    });
    await killHard();
    await receiver.up();
    await restart();
    const [received] = await receiver.waitFor((r) => r.headers['x-sub'] === 'crash-2' && r.json?.entry?.length === 2, 1, 30_000);
    expect(received.json.entry[1].fullUrl).toBe(`http://fhir.e2e/fhir/Appointment/${written.body.id}`);
    const status = received.json.entry[0].resource.parameter;
    expect(status.find((p: { name: string }) => p.name === 'type').valueCode).toBe('event-notification');
  });
});
