import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { buildOnce, fhirFetch, jsonBody, startServerProcess, stopAllServerProcesses, type ServerProcess } from './support/server-process.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether a new TCP connection to the port is refused (nothing listens any more). */
function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.setTimeout(5_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

/** Waits until the server's log shows that it has started on a request (bounded). */
async function waitForLog(server: ServerProcess, pattern: RegExp, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(server.output())) {
    if (Date.now() > deadline) throw new Error(`log never matched ${pattern}:\n${server.output()}`);
    await sleep(2);
  }
}

describe('process lifecycle', () => {
  let database: TestDatabase;
  let pool: pg.Pool;
  let server: ServerProcess;

  beforeAll(async () => {
    await buildOnce();
    database = await createTestDatabase();
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
    server = await startServerProcess({ databaseUrl: database.url });
  });

  afterAll(async () => {
    await stopAllServerProcesses();
    await pool?.end();
    await database?.drop();
  });

  it('answers /healthz and /readyz with 200', async () => {
    const health = await fetch(`${server.baseUrl}/healthz`, { signal: AbortSignal.timeout(5_000) });
    expect(health.status).toBe(200);
    expect(await jsonBody(health)).toEqual({ status: 'ok' });
    const ready = await fetch(`${server.baseUrl}/readyz`, { signal: AbortSignal.timeout(5_000) });
    expect(ready.status).toBe(200);
    expect(await jsonBody(ready)).toEqual({ status: 'ready' });
    const metadata = await fhirFetch(server.baseUrl, 'GET', 'metadata');
    expect(metadata.status).toBe(200);
    expect(metadata.body.resourceType).toBe('CapabilityStatement');
  });

  it('on SIGTERM finishes the in-flight request, exits with 0 and then refuses connections', async () => {
    // A server of its own, logging requests as they arrive, so the test knows the request has arrived before the signal.
    const dying = await startServerProcess({ databaseUrl: database.url, env: { LOG_LEVEL: 'debug' } });
    const system = 'urn:e2e:shutdown';
    const entries = Array.from({ length: 300 }, (_, i) => ({
      fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resource: { resourceType: 'Patient', identifier: [{ system, value: String(i) }], name: [{ family: `Shutdown${i}`, given: ['Grace'] }] },
      request: { method: 'POST', url: 'Patient' },
    }));
    let respondedAt: number | undefined;
    const inFlight = fhirFetch(dying.baseUrl, 'POST', '', { resourceType: 'Bundle', type: 'transaction', entry: entries }).then((result) => {
      respondedAt = Date.now();
      return result;
    });

    await waitForLog(dying, /"method":"POST","url":"\/fhir\/?"[^\n]*"msg":"incoming request"/);
    const signalledAt = Date.now();
    dying.process.kill('SIGTERM');

    const response = await inFlight;
    expect(respondedAt, 'the response must come after the signal, or nothing was in flight').toBeGreaterThanOrEqual(signalledAt);
    expect(response.status).toBe(200);
    expect(response.body.resourceType).toBe('Bundle');
    expect(response.body.type).toBe('transaction-response');
    expect(response.body.entry).toHaveLength(300);
    for (const entry of response.body.entry) expect(entry.response.status).toMatch(/^201/);

    const exit = await dying.stop();
    expect(exit, dying.output()).toEqual({ code: 0, signal: null });
    expect(dying.output()).toContain('shutting down');
    expect(await connectionRefused(dying.port)).toBe(true);

    // The whole transaction committed.
    const { rows } = await pool.query<{ count: string }>(
      `SELECT count(*) FROM resource WHERE resource_type = 'Patient' AND content -> 'identifier' @> $1::jsonb`,
      [JSON.stringify([{ system }])],
    );
    expect(Number(rows[0].count)).toBe(300);

    // The other process on the same database is untouched.
    expect((await fetch(`${server.baseUrl}/readyz`, { signal: AbortSignal.timeout(5_000) })).status).toBe(200);
  });

  it('exits with 0 on SIGTERM when idle', async () => {
    const idle = await startServerProcess({ databaseUrl: database.url });
    expect(await idle.stop()).toEqual({ code: 0, signal: null });
    expect(await connectionRefused(idle.port)).toBe(true);
  });
});
