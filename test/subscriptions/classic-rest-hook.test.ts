import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, startTestServer, type TestServer } from '../support/test-server.js';
import { appointment, classicSubscription, eventually, Receiver, sleep } from './support.js';

const SECRET_EXTENSION = 'http://fhir-server.example/StructureDefinition/subscription-secret';

/** Classic R4 Subscriptions with the rest-hook channel, against a real HTTP endpoint on 127.0.0.1. */
describe('classic rest-hook subscriptions', () => {
  let server: TestServer;
  let receiver: Receiver;

  beforeAll(async () => {
    server = await startTestServer({ ALLOW_PRIVATE_CALLBACKS: 'true', SUBSCRIPTION_RETRY_BASE_MS: '100', SUBSCRIPTION_MAX_ATTEMPTS: '3' });
    receiver = await new Receiver().start();
  });

  afterAll(async () => {
    await receiver?.stop();
    await server?.close();
  });

  /** A subscription whose notifications carry `X-Sub: <tag>`, so that tests sharing the receiver tell theirs apart. */
  async function subscribe(tag: string, criteria: string, channel: Record<string, unknown> = {}, extra: Record<string, unknown> = {}, token?: string) {
    const response = await fhirRequest(
      server.app,
      'POST',
      'fhir/Subscription',
      classicSubscription(criteria, { type: 'rest-hook', endpoint: receiver.url, payload: 'application/fhir+json', header: [`X-Sub: ${tag}`], ...channel }, extra),
      token ? { authorization: `Bearer ${token}` } : {},
    );
    expect(response.status, response.text).toBe(201);
    return response.body;
  }

  const tagged = (tag: string) => (r: { headers: http.IncomingHttpHeaders }) => r.headers['x-sub'] === tag;

  async function create(resource: Record<string, unknown>) {
    const response = await fhirRequest(server.app, 'POST', `fhir/${resource.resourceType}`, resource);
    expect(response.status, response.text).toBe(201);
    return response.body;
  }

  async function eventCount(id: string): Promise<number> {
    const { rows } = await server.db.query<{ n: string }>('SELECT events_since_start AS n FROM subscription_state WHERE id = $1', [id]);
    return Number(rows[0]?.n ?? 0);
  }

  it('accepts the subscription (active) and POSTs each matching version, with its headers, in order', async () => {
    const subscription = await subscribe('match', 'Appointment?status=booked&actor=Practitioner/p1');
    expect(subscription.status).toBe('active');

    const first = await create(appointment('booked', ['Practitioner/p1']));
    await create(appointment('proposed', ['Practitioner/p1'])); // not booked
    await create(appointment('booked', ['Practitioner/p2'])); // another practitioner
    const updated = await fhirRequest(server.app, 'PUT', `fhir/Appointment/${first.id}`, { ...first, comment: 'changed' });
    expect(updated.status).toBe(200);

    const received = await receiver.waitFor(tagged('match'), 2);
    expect(received.map((r) => [r.method, r.url, r.json.id, r.json.meta.versionId])).toEqual([
      ['POST', '/hook', first.id, '1'],
      ['POST', '/hook', first.id, '2'],
    ]);
    expect(received[0].headers['content-type']).toBe('application/fhir+json');
    expect(received[1].json.comment).toBe('changed');
    expect(await eventCount(subscription.id)).toBe(2);
  });

  it('POSTs no body when the subscription has no payload', async () => {
    await subscribe('no-payload', 'Appointment?actor=Practitioner/no-payload', { payload: undefined });
    await create(appointment('booked', ['Practitioner/no-payload']));
    const [received] = await receiver.waitFor(tagged('no-payload'));
    expect(received.body).toBe('');
    expect(received.headers['content-length']).toBe('0');
  });

  it('keeps in its state what one notification carries: one event, with the version when there is a payload', async () => {
    const shape = async (id: string) =>
      (await server.db.query('SELECT events_per_notification, with_focus FROM subscription_state WHERE id = $1', [id])).rows[0];
    const withPayload = await subscribe('shape', 'Appointment?actor=Practitioner/shape');
    const without = await subscribe('shape-empty', 'Appointment?actor=Practitioner/shape', { payload: undefined });
    expect(await shape(withPayload.id)).toEqual({ events_per_notification: 1, with_focus: true });
    expect(await shape(without.id)).toEqual({ events_per_notification: 1, with_focus: false });
  });

  it('delivers for a state row written before it kept what a notification carries (read apart from the claim)', async () => {
    const subscription = await subscribe('old-row', 'Appointment?actor=Practitioner/old-row');
    await server.db.query('UPDATE subscription_state SET events_per_notification = NULL, with_focus = NULL WHERE id = $1', [subscription.id]);
    const booked = await create(appointment('booked', ['Practitioner/old-row']));
    const [received] = await receiver.waitFor(tagged('old-row'));
    expect(received.json).toMatchObject({ resourceType: 'Appointment', id: booked.id });
  });

  it('refuses criteria the search does not understand, and channels it cannot serve (400, nothing stored)', async () => {
    const cases = [
      classicSubscription('Appointment?no-such-parameter=1', { type: 'rest-hook', endpoint: receiver.url }),
      classicSubscription('NotAType?status=booked', { type: 'rest-hook', endpoint: receiver.url }),
      classicSubscription('Appointment?date=not-a-date', { type: 'rest-hook', endpoint: receiver.url }),
      classicSubscription('Appointment?status=booked', { type: 'email', endpoint: 'mailto:someone@example.org' }),
      classicSubscription('Appointment?status=booked', { type: 'rest-hook' }),
      classicSubscription('Appointment?status=booked', { type: 'rest-hook', endpoint: 'ftp://example.org/x' }),
      classicSubscription('Appointment?status=booked', { type: 'rest-hook', endpoint: receiver.url, payload: 'application/fhir+xml' }),
      classicSubscription('Appointment?status=booked', { type: 'rest-hook', endpoint: receiver.url, header: ['no colon here'] }),
    ];
    for (const body of cases) {
      const response = await fhirRequest(server.app, 'POST', 'fhir/Subscription', body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.resourceType).toBe('OperationOutcome');
    }
    const search = await fhirRequest(server.app, 'GET', 'fhir/Subscription?criteria=NotAType?status=booked');
    expect(search.body.total ?? search.body.entry?.length ?? 0).toBe(0);
  });

  it('sends with the channel of the Subscription as it is now, after an update changed it', async () => {
    const subscription = await subscribe('before-change', 'Appointment?actor=Practitioner/changing');
    await create(appointment('booked', ['Practitioner/changing']));
    await receiver.waitFor(tagged('before-change'));
    const changed = await fhirRequest(server.app, 'PUT', `fhir/Subscription/${subscription.id}`, {
      ...subscription,
      channel: { ...subscription.channel, header: ['X-Sub: after-change'], payload: undefined },
    });
    expect(changed.status, changed.text).toBe(200);
    await create(appointment('booked', ['Practitioner/changing']));
    const [received] = await receiver.waitFor(tagged('after-change'));
    expect(received.body).toBe('');
  });

  it('follows new criteria after an update, and after a delete notifies nothing and keeps neither state nor events', async () => {
    const subscription = await subscribe('refiled', 'Appointment?actor=Practitioner/refiled-a');
    const moved = await fhirRequest(server.app, 'PUT', `fhir/Subscription/${subscription.id}`, { ...subscription, criteria: 'Appointment?actor=Practitioner/refiled-b' });
    expect(moved.status, moved.text).toBe(200);
    await create(appointment('booked', ['Practitioner/refiled-a']));
    const toB = await create(appointment('booked', ['Practitioner/refiled-b']));
    const [received] = await receiver.waitFor(tagged('refiled'));
    expect(received.json.id).toBe(toB.id);

    expect((await fhirRequest(server.app, 'DELETE', `fhir/Subscription/${subscription.id}`)).status).toBe(200);
    await create(appointment('booked', ['Practitioner/refiled-b']));
    await sleep(500);
    expect(receiver.received.filter(tagged('refiled'))).toHaveLength(1);
    const left = await server.db.query(
      `SELECT (SELECT count(*) FROM subscription_state WHERE id = $1)::int AS states, (SELECT count(*) FROM subscription_event WHERE subscription_id = $1)::int AS events`,
      [subscription.id],
    );
    expect(left.rows).toEqual([{ states: 0, events: 0 }]);
  });

  it('respects status off, and resumes when switched back on', async () => {
    const subscription = await subscribe('off', 'Appointment?actor=Practitioner/off');
    const off = await fhirRequest(server.app, 'PUT', `fhir/Subscription/${subscription.id}`, { ...subscription, status: 'off' });
    expect(off.body.status).toBe('off');
    await create(appointment('booked', ['Practitioner/off']));
    const on = await fhirRequest(server.app, 'PUT', `fhir/Subscription/${subscription.id}`, { ...off.body, status: 'requested' });
    expect(on.body.status).toBe('active');
    const after = await create(appointment('booked', ['Practitioner/off']));
    const [received] = await receiver.waitFor(tagged('off'));
    // The change made while off was never an event; the one after is the first.
    expect(received.json.id).toBe(after.id);
    expect(await eventCount(subscription.id)).toBe(1);
  });

  it('honours end: no notification for changes after it, and the status becomes off', async () => {
    const end = new Date(Date.now() + 1500).toISOString();
    const subscription = await subscribe('end', 'Appointment?actor=Practitioner/end', {}, { end });
    const before = await create(appointment('booked', ['Practitioner/end']));
    await receiver.waitFor(tagged('end'));
    await sleep(Math.max(0, new Date(end).getTime() - Date.now() + 100));
    await create(appointment('booked', ['Practitioner/end']));
    const status = await eventually(async () => {
      const read = await fhirRequest(server.app, 'GET', `fhir/Subscription/${subscription.id}`);
      return read.body.status === 'off' ? read.body.status : undefined;
    }, 15_000, 200);
    expect(status).toBe('off');
    expect(receiver.received.filter(tagged('end')).map((r) => r.json.id)).toEqual([before.id]);
    expect(await eventCount(subscription.id)).toBe(1);
  });

  it('delivers a backlog longer than one turn of a claim (20 notifications) in order, all of it', async () => {
    await subscribe('backlog', 'Appointment?actor=Practitioner/backlog');
    const entries = Array.from({ length: 30 }, () => ({ resource: appointment('booked', ['Practitioner/backlog']), request: { method: 'POST', url: 'Appointment' } }));
    const written = await fhirRequest(server.app, 'POST', 'fhir', { resourceType: 'Bundle', type: 'transaction', entry: entries });
    expect(written.status, written.text).toBe(200);
    const ids = written.body.entry.map((e: { response: { location: string } }) => /Appointment\/([^/]+)/.exec(e.response.location)?.[1]);
    const received = await receiver.waitFor(tagged('backlog'), 30);
    expect(received.map((r) => r.json.id)).toEqual(ids);
  });

  it('retries a failing endpoint with exponential back-off until it recovers, keeping the order', async () => {
    let refusals = 2;
    const previous = receiver.respond;
    receiver.respond = (request) => (request.headers['x-sub'] === 'recover' && refusals-- > 0 ? 503 : 200);
    try {
      await subscribe('recover', 'Appointment?actor=Practitioner/recover');
      const written = [];
      for (let i = 0; i < 3; i++) written.push(await create(appointment('booked', ['Practitioner/recover'])));
      const received = await receiver.waitFor(tagged('recover'), 3);
      expect(received.map((r) => r.json.id)).toEqual(written.map((w) => w.id));
      const failures = receiver.failures.filter(tagged('recover'));
      expect(failures.map((f) => f.json.id)).toEqual([written[0].id, written[0].id]);
      // Back-off: 100 ms after the first failure, 200 ms after the second.
      expect(failures[1].at - failures[0].at).toBeGreaterThanOrEqual(90);
      expect(received[0].at - failures[1].at).toBeGreaterThanOrEqual(180);
    } finally {
      receiver.respond = previous;
    }
  });

  it('sets the status to error, with the reason, after SUBSCRIPTION_MAX_ATTEMPTS failed deliveries', async () => {
    const previous = receiver.respond;
    receiver.respond = (request) => (request.headers['x-sub'] === 'broken' ? 500 : previous(request));
    try {
      const subscription = await subscribe('broken', 'Appointment?actor=Practitioner/broken');
      await create(appointment('booked', ['Practitioner/broken']));
      const failed = await eventually(async () => {
        const read = await fhirRequest(server.app, 'GET', `fhir/Subscription/${subscription.id}`);
        return read.body.status === 'error' ? read.body : undefined;
      });
      expect(failed.error).toMatch(/3 times.*500/);
      expect(receiver.failures.filter(tagged('broken'))).toHaveLength(3);
      const status = await fhirRequest(server.app, 'GET', `fhir/Subscription/${subscription.id}/$status`);
      const parameters = status.body.entry[0].resource;
      expect(parameters.parameter.find((p: { name: string }) => p.name === 'status').valueCode).toBe('error');
      // No more attempts once in error.
      await sleep(500);
      expect(receiver.failures.filter(tagged('broken'))).toHaveLength(3);
    } finally {
      receiver.respond = previous;
    }
  });

  it('signs each POST with HMAC-SHA256 of the body when the subscription has a secret, which is never shown', async () => {
    const secret = 'a shared secret';
    const subscription = await subscribe('signed', 'Appointment?actor=Practitioner/signed', { extension: [{ url: SECRET_EXTENSION, valueString: secret }] });
    expect(JSON.stringify(subscription)).not.toContain(secret);
    const read = await fhirRequest(server.app, 'GET', `fhir/Subscription/${subscription.id}`);
    expect(read.text).not.toContain(secret);
    await create(appointment('booked', ['Practitioner/signed']));
    const [received] = await receiver.waitFor(tagged('signed'));
    const expected = `sha256=${createHmac('sha256', secret).update(received.body).digest('hex')}`;
    expect(received.headers['x-hub-signature-256']).toBe(expected);
    // Unsigned without a secret.
    expect(receiver.received.find(tagged('match'))?.headers['x-hub-signature-256']).toBeUndefined();
  });

  it('notifies only about what the subscription creator may read', async () => {
    // A client that may manage Subscriptions but not read Appointments, and one confined to Practitioner/mine's.
    const blind = await server.auth.tokens.issue({ sub: 'blind', client_id: 'blind-app', scope: 'system/Subscription.cruds system/Patient.rs' });
    const confined = await server.auth.tokens.issue({ sub: 'confined', client_id: 'confined-app', scope: 'system/Subscription.cruds system/Appointment.rs?actor=Practitioner/mine' });
    const blindSubscription = await subscribe('blind', 'Appointment?status=booked', {}, {}, blind);
    const confinedSubscription = await subscribe('confined', 'Appointment?status=booked', {}, {}, confined);
    await create(appointment('booked', ['Practitioner/theirs']));
    const mine = await create(appointment('booked', ['Practitioner/mine']));
    const control = await subscribe('control', 'Appointment?actor=Practitioner/control');
    const last = await create(appointment('booked', ['Practitioner/control']));
    await receiver.waitFor(tagged('control'));
    const [received] = await receiver.waitFor(tagged('confined'));
    expect(received.json.id).toBe(mine.id);
    // Every change before the control's was evaluated (the feed is read in order): none for the blind one.
    expect(await eventCount(blindSubscription.id)).toBe(0);
    expect(receiver.received.filter(tagged('blind'))).toHaveLength(0);
    await sleep(200);
    expect(receiver.received.filter(tagged('confined')).map((r) => r.json.id)).toEqual([mine.id]);
    expect(await eventCount(confinedSubscription.id)).toBe(1);
    expect(last.id).toBeDefined();
    expect(control.status).toBe('active');
  });

  it('never notifies a change whose transaction rolled back', async () => {
    await subscribe('rollback', 'Appointment?actor=Practitioner/rollback');
    const failed = await fhirRequest(server.app, 'POST', 'fhir', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: appointment('booked', ['Practitioner/rollback'], { comment: 'rolled back' }), request: { method: 'POST', url: 'Appointment' } },
        // Fails in the write path after the Appointment is written: the whole transaction rolls back.
        { resource: { resourceType: 'Patient', id: 'stale' }, request: { method: 'PUT', url: 'Patient/stale', ifMatch: 'W/"7"' } },
      ],
    });
    expect(failed.status).toBe(412);
    const kept = await create(appointment('booked', ['Practitioner/rollback'], { comment: 'kept' }));
    const [received] = await receiver.waitFor(tagged('rollback'));
    expect(received.json.id).toBe(kept.id);
    await sleep(300);
    expect(receiver.received.filter(tagged('rollback')).map((r) => r.json.comment)).toEqual(['kept']);
  });

  it('delivers many changes in order, each once, and then holds no lease on the subscription', async () => {
    const subscription = await subscribe('order', 'Appointment?actor=Practitioner/order');
    const written = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const ids = [];
        for (let i = 0; i < 4; i++) ids.push((await create(appointment('booked', ['Practitioner/order']))).id);
        return ids;
      }),
    );
    const received = await receiver.waitFor(tagged('order'), 20);
    expect(received).toHaveLength(20);
    expect(new Set(received.map((r) => r.json.id)).size).toBe(20);
    // Each writer's own changes arrive in the order it made them.
    for (const ids of written) {
      const positions = ids.map((id) => received.findIndex((r) => r.json.id === id));
      expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    }
    const state = async () => (await server.db.query('SELECT delivered_through, lease_pid FROM subscription_state WHERE id = $1', [subscription.id])).rows[0];
    expect(await eventually(async () => ((await state()).lease_pid === null ? state() : undefined))).toEqual({ delivered_through: '20', lease_pid: null });
  });

  it('a slow endpoint delays neither other subscriptions nor the FHIR API', async () => {
    const hanging = http.createServer(() => undefined); // never answers
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    try {
      const slowUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hook`;
      for (let i = 0; i < 3; i++) await subscribe(`slow-${i}`, 'Appointment?actor=Practitioner/slow', { endpoint: slowUrl });
      await subscribe('fast', 'Appointment?actor=Practitioner/slow');
      const started = Date.now();
      const written = await create(appointment('booked', ['Practitioner/slow']));
      const writeMs = Date.now() - started;
      const [received] = await receiver.waitFor(tagged('fast'), 1, 5_000);
      expect(received.json.id).toBe(written.id);
      expect(received.at - started).toBeLessThan(2_000);
      expect(writeMs).toBeLessThan(1_000);
    } finally {
      hanging.closeAllConnections();
      hanging.close();
    }
  });
  it('sends to subscriptions sharing an endpoint at the same time, none queued behind the others for a connection', async () => {
    const SHARING = 20;
    // Answers nothing until a request of every subscription is open at once.
    const waiting: http.ServerResponse[] = [];
    const shared = http.createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        waiting.push(response);
        if (waiting.length >= SHARING) for (const held of waiting.splice(0)) held.end();
      });
    });
    await new Promise<void>((resolve) => shared.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(shared.address() as AddressInfo).port}/hook`;
      const ids: string[] = [];
      for (let k = 0; k < SHARING; k++) ids.push((await subscribe(`shared-${k}`, 'Appointment?actor=Practitioner/shared', { endpoint: url })).id);
      await create(appointment('booked', ['Practitioner/shared']));
      const delivered = async () =>
        Number((await server.db.query(`SELECT count(*) AS n FROM subscription_state WHERE id = ANY($1) AND delivered_through = 1`, [ids])).rows[0].n);
      expect(await eventually(async () => ((await delivered()) === SHARING ? SHARING : undefined), 10_000)).toBe(SHARING);
    } finally {
      shared.closeAllConnections();
      shared.close();
    }
  });
});

describe('rest-hook endpoints without ALLOW_PRIVATE_CALLBACKS', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ ALLOW_PRIVATE_CALLBACKS: 'false' });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('refuses loopback and private addresses, by literal or by name (no SSRF)', async () => {
    for (const endpoint of ['http://127.0.0.1:9/hook', 'http://localhost:9/hook', 'http://10.1.2.3/hook', 'http://[::1]:9/hook', 'http://169.254.169.254/latest']) {
      const response = await fhirRequest(server.app, 'POST', 'fhir/Subscription', classicSubscription('Appointment?status=booked', { type: 'rest-hook', endpoint }));
      expect(response.status, endpoint).toBe(400);
      expect(JSON.stringify(response.body)).toMatch(/private|resolve/);
    }
  });
});
