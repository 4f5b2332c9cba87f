import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { databaseUrl } from '../support/database-url.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import {
  buildOnce,
  fhirFetch,
  PROJECT_ROOT,
  startServerProcess,
  stopAllServerProcesses,
  type HttpResult,
  type ServerProcess,
} from './support/server-process.js';

/** Parallel requests per case, split evenly across the two processes. */
const N = 20;

const unique = () => randomBytes(6).toString('hex');

function countStatuses(results: HttpResult[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const { status } of results) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('two server processes on one database', () => {
  let database: TestDatabase;
  let pool: pg.Pool;
  let a: ServerProcess;
  let b: ServerProcess;
  /** Request i goes to process A when i is even, B when odd. */
  const via = (i: number) => (i % 2 === 0 ? a : b).baseUrl;

  beforeAll(async () => {
    await buildOnce();
    database = await createTestDatabase();
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
    [a, b] = await Promise.all([startServerProcess({ databaseUrl: database.url }), startServerProcess({ databaseUrl: database.url })]);
  });

  afterAll(async () => {
    await stopAllServerProcesses();
    await pool?.end();
    await database?.drop();
  });

  async function storedVersions(id: string): Promise<number[]> {
    const { rows } = await pool.query<{ version_id: number }>(
      `SELECT version_id FROM resource_history WHERE resource_type = 'Patient' AND id = $1 ORDER BY seq`,
      [id],
    );
    return rows.map((row) => row.version_id);
  }

  it(`lets exactly one of ${N} parallel updates with the same If-Match win`, async () => {
    const id = `if-match-${unique()}`;
    const created = await fhirFetch(a.baseUrl, 'PUT', `Patient/${id}`, { resourceType: 'Patient', id, name: [{ family: 'Original' }] });
    expect(created.status).toBe(201);

    const results = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        fhirFetch(via(i), 'PUT', `Patient/${id}`, { resourceType: 'Patient', id, name: [{ family: `Writer${i}` }] }, { 'if-match': 'W/"1"' }),
      ),
    );
    expect(countStatuses(results)).toEqual({ 200: 1, 412: N - 1 });
    for (const result of results.filter((r) => r.status === 412)) {
      expect(result.body.resourceType).toBe('OperationOutcome');
      expect(result.body.issue[0].severity).toBe('error');
    }
    const winner = results.find((r) => r.status === 200) as HttpResult;
    expect(winner.body.meta.versionId).toBe('2');

    for (const server of [a, b]) {
      const read = await fhirFetch(server.baseUrl, 'GET', `Patient/${id}`);
      expect(read.status).toBe(200);
      expect(read.body.meta.versionId).toBe('2');
      expect(read.headers.get('etag')).toBe('W/"2"');
      expect(read.body.name).toEqual(winner.body.name);
    }
    expect(await storedVersions(id)).toEqual([1, 2]);
  });

  it(`applies all of ${N} parallel unconditional updates, one version each, without gaps`, async () => {
    const id = `last-writer-${unique()}`;
    const created = await fhirFetch(b.baseUrl, 'PUT', `Patient/${id}`, { resourceType: 'Patient', id, name: [{ family: 'Original' }] });
    expect(created.status).toBe(201);

    const results = await Promise.all(
      Array.from({ length: N }, (_, i) => fhirFetch(via(i), 'PUT', `Patient/${id}`, { resourceType: 'Patient', id, name: [{ family: `Writer${i}` }] })),
    );
    expect(countStatuses(results)).toEqual({ 200: N });
    const returnedVersions = results.map((r) => Number(r.body.meta.versionId)).sort((x, y) => x - y);
    expect(returnedVersions).toEqual(Array.from({ length: N }, (_, i) => i + 2));

    const expected = Array.from({ length: N + 1 }, (_, i) => i + 1);
    // Ordered by the change feed's sequence: versions were committed in order, none twice, none missing.
    expect(await storedVersions(id)).toEqual(expected);

    const current = await fhirFetch(a.baseUrl, 'GET', `Patient/${id}`);
    expect(current.body.meta.versionId).toBe(String(N + 1));
    const last = results.find((r) => r.body.meta.versionId === String(N + 1)) as HttpResult;
    expect(current.body.name).toEqual(last.body.name);

    for (const server of [a, b]) {
      const history = await fhirFetch(server.baseUrl, 'GET', `Patient/${id}/_history?_count=100`);
      expect(history.status).toBe(200);
      expect(history.body.type).toBe('history');
      const versions: number[] = history.body.entry.map((entry: { resource: { meta: { versionId: string } } }) => Number(entry.resource.meta.versionId));
      expect(versions).toEqual([...expected].reverse());
    }
  });

  it(`creates exactly one resource from ${N} parallel conditional creates`, async () => {
    const value = `same-${unique()}`;
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        fhirFetch(
          via(i),
          'POST',
          'Patient',
          { resourceType: 'Patient', identifier: [{ system: 'urn:e2e:sys', value }], name: [{ family: `Creator${i}` }] },
          { 'if-none-exist': `identifier=urn:e2e:sys|${value}` },
        ),
      ),
    );
    expect(countStatuses(results)).toEqual({ 201: 1, 200: N - 1 });
    const ids = new Set(results.map((r) => r.body?.id));
    expect(ids.size).toBe(1);
    const [id] = ids;
    expect(typeof id).toBe('string');
    const createdResponse = results.find((r) => r.status === 201) as HttpResult;
    expect(createdResponse.headers.get('location')).toMatch(new RegExp(`/fhir/Patient/${id}/_history/1$`));

    const { rows } = await pool.query<{ id: string }>(
      `SELECT id FROM resource WHERE resource_type = 'Patient' AND content -> 'identifier' @> $1::jsonb`,
      [JSON.stringify([{ system: 'urn:e2e:sys', value }])],
    );
    expect(rows.map((row) => row.id)).toEqual([id]);
    for (const server of [a, b]) {
      const search = await fhirFetch(server.baseUrl, 'GET', `Patient?identifier=${encodeURIComponent(`urn:e2e:sys|${value}`)}`);
      expect(search.status).toBe(200);
      expect(search.body.entry.map((entry: { resource: { id: string } }) => entry.resource.id)).toEqual([id]);
    }
  });

  it('makes a write through one process readable through the other at once', async () => {
    for (let i = 0; i < 10; i++) {
      const [writer, reader] = i % 2 === 0 ? [a, b] : [b, a];
      const value = `rw-${unique()}`;
      const created = await fhirFetch(writer.baseUrl, 'POST', 'Patient', {
        resourceType: 'Patient',
        identifier: [{ system: 'urn:e2e:rw', value }],
        name: [{ family: 'Visible' }],
      });
      expect(created.status).toBe(201);
      const id: string = created.body.id;

      const read = await fhirFetch(reader.baseUrl, 'GET', `Patient/${id}`);
      expect(read.status).toBe(200);
      expect(read.body.meta.versionId).toBe('1');
      expect(read.body.name).toEqual([{ family: 'Visible' }]);
      const search = await fhirFetch(reader.baseUrl, 'GET', `Patient?identifier=${encodeURIComponent(`urn:e2e:rw|${value}`)}`);
      expect(search.body.entry?.map((entry: { resource: { id: string } }) => entry.resource.id)).toEqual([id]);

      const updated = await fhirFetch(reader.baseUrl, 'PUT', `Patient/${id}`, { ...read.body, name: [{ family: 'Changed' }] }, { 'if-match': 'W/"1"' });
      expect(updated.status).toBe(200);
      const reread = await fhirFetch(writer.baseUrl, 'GET', `Patient/${id}`);
      expect(reread.body.meta.versionId).toBe('2');
      expect(reread.body.name).toEqual([{ family: 'Changed' }]);

      expect((await fhirFetch(writer.baseUrl, 'DELETE', `Patient/${id}`)).status).toBeLessThan(300);
      expect((await fhirFetch(reader.baseUrl, 'GET', `Patient/${id}`)).status).toBe(410);
    }
  });
});

describe('two server processes starting at once on an empty database', () => {
  const name = `fhir_e2e_migrate_${unique()}`;
  let created = false;
  let gate: pg.Client | undefined;

  beforeAll(async () => {
    await buildOnce();
  });

  afterAll(async () => {
    await gate?.end().catch(() => undefined);
    await stopAllServerProcesses();
    if (created) await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });

  /** Sessions on the database that wait for a lock (read outside the gate's transaction: it would see a frozen snapshot). */
  async function waitingSessions(url: string): Promise<number> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ count: string }>(
        `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      return Number(rows[0].count);
    } finally {
      await client.end();
    }
  }

  it('both come up ready and the schema is migrated once', async () => {
    await adminQuery(`CREATE DATABASE ${name}`);
    created = true;
    const url = databaseUrl(inject('adminDatabaseUrl'), name);

    // A gate, so that the two start-ups really meet: an uncommitted table of the migrator's own name
    // makes the first start-up that tries to create it wait. Once both wait (the other one for the
    // first), the gate opens and both go on at the same moment. Without a lock of their own they would
    // both create the table, and one would fail.
    gate = new pg.Client({ connectionString: url });
    await gate.connect();
    await gate.query('BEGIN');
    await gate.query('CREATE TABLE knex_migrations (id integer)');
    const starting = Promise.all([startServerProcess({ databaseUrl: url }), startServerProcess({ databaseUrl: url })]);
    // If the test fails before it awaits them, afterAll stops the processes; no unhandled rejection.
    starting.catch(() => undefined);
    const deadline = Date.now() + 30_000;
    while ((await waitingSessions(url)) < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await waitingSessions(url)).toBe(2);
    await gate.query('ROLLBACK');
    await gate.end();
    gate = undefined;
    const [first, second] = await starting;

    const migrations = (await readdir(path.join(PROJECT_ROOT, 'migrations')))
      .filter((file) => /^\d+_.*\.ts$/.test(file) && !file.endsWith('.d.ts'))
      .map((file) => file.replace(/\.ts$/, ''))
      .sort();
    expect(migrations.length).toBeGreaterThan(0);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string }>('SELECT name FROM knex_migrations ORDER BY id');
      expect(rows.map((row) => row.name)).toEqual(migrations);
    } finally {
      await client.end();
    }

    const written = await fhirFetch(first.baseUrl, 'POST', 'Patient', { resourceType: 'Patient', name: [{ family: 'Migrated' }] });
    expect(written.status).toBe(201);
    const read = await fhirFetch(second.baseUrl, 'GET', `Patient/${written.body.id}`);
    expect(read.status).toBe(200);

    const exits = await Promise.all([first.stop(), second.stop()]);
    expect(exits).toEqual([
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);
  }, 90_000);
});
