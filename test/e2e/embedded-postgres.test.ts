import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, fhirFetch, startServerProcess, stopAllServerProcesses } from './support/server-process.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid of the PostgreSQL postmaster running on a data directory, from its `postmaster.pid`. */
async function postmasterPid(dataDir: string): Promise<number | undefined> {
  const text = await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  const pid = Number(text?.split('\n')[0]);
  return pid > 0 ? pid : undefined;
}

async function waitUntilGone(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

describe('the server with no DATABASE_URL (embedded PostgreSQL)', () => {
  let dataDir: string;

  beforeAll(async () => {
    await buildOnce();
    dataDir = await mkdtemp(path.join(tmpdir(), 'fhir-e2e-data-'));
  });

  afterAll(async () => {
    await stopAllServerProcesses();
    // A server killed without its shutdown leaves its PostgreSQL behind: stop that one (fast shutdown).
    const pid = dataDir ? await postmasterPid(dataDir) : undefined;
    if (pid && isAlive(pid)) {
      process.kill(pid, 'SIGINT');
      await waitUntilGone(pid);
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('starts its own database, stops it on SIGTERM and keeps the data for the next start', async () => {
    // The test run's own DATABASE_URL (if any) must not reach the child: the helper drops it.
    const env = { DATA_DIR: dataDir, LOG_LEVEL: 'info' };
    const first = await startServerProcess({ env, readyTimeoutMs: 120_000 });
    expect(first.output()).toContain('"embeddedDatabase":true');
    const pgPid = await postmasterPid(dataDir);
    expect(pgPid, 'a PostgreSQL runs on DATA_DIR').toBeDefined();
    expect(isAlive(pgPid as number)).toBe(true);

    const created = await fhirFetch(first.baseUrl, 'POST', 'Patient', {
      resourceType: 'Patient',
      identifier: [{ system: 'urn:e2e:embedded', value: 'persisted' }],
      name: [{ family: 'Embedded', given: ['Persisted'] }],
    });
    expect(created.status).toBe(201);
    const id: string = created.body.id;
    const read = await fhirFetch(first.baseUrl, 'GET', `Patient/${id}`);
    expect(read.status).toBe(200);
    expect(read.body.name).toEqual([{ family: 'Embedded', given: ['Persisted'] }]);

    expect(await first.stop(), first.output()).toEqual({ code: 0, signal: null });
    expect(await waitUntilGone(pgPid as number), 'the PostgreSQL of DATA_DIR has stopped').toBe(true);
    expect(existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false);
    expect(existsSync(path.join(dataDir, 'PG_VERSION')), 'the data directory is kept').toBe(true);

    const second = await startServerProcess({ env, readyTimeoutMs: 120_000 });
    const again = await fhirFetch(second.baseUrl, 'GET', `Patient/${id}`);
    expect(again.status).toBe(200);
    expect(again.body.meta.versionId).toBe('1');
    expect(again.body.name).toEqual([{ family: 'Embedded', given: ['Persisted'] }]);
    const search = await fhirFetch(second.baseUrl, 'GET', `Patient?identifier=${encodeURIComponent('urn:e2e:embedded|persisted')}`);
    expect(search.body.entry?.map((entry: { resource: { id: string } }) => entry.resource.id)).toEqual([id]);

    const secondPgPid = await postmasterPid(dataDir);
    expect(await second.stop(), second.output()).toEqual({ code: 0, signal: null });
    expect(await waitUntilGone(secondPgPid as number)).toBe(true);
    expect(existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false);
  }, 300_000);
});
