import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BulkExportRunner, runnerFor } from '../../src/fhir/operations/bulk-export/index.js';
import { fhirRequest, startTestServer, type TestServer } from '../support/test-server.js';
import { bearer, download, idsOf, kickOff, poll } from './support.js';

/**
 * The job runner as several processes share it: claims with a lease, a dead process's job taken
 * over where it stopped, files split by size, failures, and the 24-hour expiry. The server's own
 * runner is stopped, so that each step here is driven by hand.
 */
describe('bulk export runner', () => {
  let server: TestServer;
  const observations: string[] = [];
  let runner: (overrides?: Partial<BulkExportRunner['options']>) => BulkExportRunner;

  const jobId = (status: string) => status.split('/').pop() as string;
  const step = (r: BulkExportRunner, id: string) => server.db.transaction((tx) => r.step(tx, id));

  beforeAll(async () => {
    server = await startTestServer();
    const builtIn = runnerFor(server.db) as BulkExportRunner;
    await builtIn.stop();
    runner = (overrides = {}) => new BulkExportRunner({ ...builtIn.options, pageSize: 2, fileResources: 3, ...overrides });
    const patient = await fhirRequest(server.app, 'POST', '/fhir/Patient', { resourceType: 'Patient' });
    for (let i = 0; i < 5; i++) {
      const response = await fhirRequest(server.app, 'POST', '/fhir/Observation', {
        resourceType: 'Observation',
        status: 'final',
        code: { text: `o${i}` },
        subject: { reference: `Patient/${patient.body.id}` },
      });
      observations.push(`Observation/${response.body.id}`);
    }
  });
  afterAll(async () => server?.close());

  it('a job whose process died is taken over after its lease, and finishes without loss or duplicates', async () => {
    const { status } = await kickOff(server, '/fhir/$export?_type=Observation');
    const id = jobId(status as string);
    const first = runner();
    const second = runner();
    expect((await first.claim())?.id).toBe(id);
    expect(await step(first, id)).toBe('more'); // two resources written
    expect(await second.claim()).toBeUndefined(); // the lease holds
    const running = await fhirRequest(server.app, 'GET', status as string);
    expect(running.status).toBe(202);
    expect(running.headers['x-progress']).toContain('2 resources');

    // The first process dies: its lease runs out.
    await server.db.query(`UPDATE bulk_export_job SET lease_expires = now() - interval '1 second' WHERE id = $1`, [id]);
    const taken = await second.claim();
    expect(taken?.id).toBe(id);
    expect(await step(first, id)).toBe('lost'); // a late step of the dead owner changes nothing
    await second.runJob(taken!);

    const done = await poll(server, status as string);
    expect(done.status).toBe(200);
    // Five resources in files of at most three: two parts.
    expect(done.body.output.map((o: { url: string; count: number }) => [o.url.split('/').pop(), o.count])).toEqual([
      ['Observation-0.ndjson', 3],
      ['Observation-1.ndjson', 2],
    ]);
    const resources = await download(server, done.body);
    expect(idsOf(resources.Observation)).toEqual([...observations].sort());
  });

  it('lines that fit in chunkChars share a chunk row, in id order, each ending with a newline', async () => {
    const { status } = await kickOff(server, '/fhir/$export?_type=Observation');
    const id = jobId(status as string);
    const whole = runner({ pageSize: 1000, fileResources: 100_000 });
    await whole.runJob((await whole.claim())!);
    const { rows } = await server.db.query('SELECT part, count, ndjson FROM bulk_export_chunk WHERE job_id = $1', [id]);
    expect(rows.map((r) => [r.part, r.count])).toEqual([[0, 5]]);
    const lines = (rows[0].ndjson as string).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((line) => `Observation/${JSON.parse(line).id}`)).toEqual([...observations].sort());
  });

  it('a chunk row holds at most chunkChars of NDJSON; a file streams all its chunks in order', async () => {
    const { status } = await kickOff(server, '/fhir/$export?_type=Observation');
    const id = jobId(status as string);
    const small = runner({ pageSize: 1000, fileResources: 100_000, chunkChars: 10 });
    const job = await small.claim();
    await small.runJob(job!);
    const { rows } = await server.db.query('SELECT count(*)::int AS chunks, max(count) AS largest FROM bulk_export_chunk WHERE job_id = $1', [id]);
    expect(rows[0]).toEqual({ chunks: 5, largest: 1 });
    const done = await poll(server, status as string);
    expect(done.body.output).toHaveLength(1);
    const resources = await download(server, done.body);
    expect(idsOf(resources.Observation)).toEqual([...observations].sort());
  });

  it('a job that keeps failing is failed after three attempts: its status is 500 with an OperationOutcome', async () => {
    // A scope query on a parameter Observation does not have: building the page's access rule fails.
    const token = await server.auth.tokens.issue({ sub: 'odd', client_id: 'odd', scope: 'system/Observation.rs?no-such-parameter=1' });
    const { response, status } = await kickOff(server, '/fhir/$export?_type=Observation', bearer(token));
    expect(response.status).toBe(202);
    const r = runner({ log: undefined });
    for (let attempt = 0; attempt < 3; attempt++) {
      const job = await r.claim();
      expect(job?.id).toBe(jobId(status as string));
      await r.runJob(job!);
    }
    expect(await r.claim()).toBeUndefined();
    const failed = await fhirRequest(server.app, 'GET', status as string, undefined, bearer(token));
    expect(failed.status).toBe(500);
    expect(failed.body.resourceType).toBe('OperationOutcome');
  });

  it('cancelling a running job stops it: its next step finds nothing', async () => {
    const { status } = await kickOff(server, '/fhir/$export?_type=Observation');
    const id = jobId(status as string);
    const r = runner();
    await r.claim();
    expect(await step(r, id)).toBe('more');
    expect((await fhirRequest(server.app, 'DELETE', status as string)).status).toBe(202);
    expect(await step(r, id)).toBe('lost');
    const { rows } = await server.db.query('SELECT count(*)::int AS n FROM bulk_export_chunk WHERE job_id = $1', [id]);
    expect(rows[0].n).toBe(0);
  });

  it('finished jobs and their files expire', async () => {
    const { status } = await kickOff(server, '/fhir/$export?_type=Observation');
    const id = jobId(status as string);
    const r = runner();
    await r.runJob((await r.claim())!);
    const done = await poll(server, status as string);
    expect(done.status).toBe(200);
    expect(done.headers.expires).toBeTruthy();
    await server.db.query(`UPDATE bulk_export_job SET expires = now() - interval '1 second' WHERE id = $1`, [id]);
    expect((await fhirRequest(server.app, 'GET', status as string)).status).toBe(404);
    expect(await r.sweep()).toBeGreaterThanOrEqual(1);
    const { rows } = await server.db.query('SELECT count(*)::int AS n FROM bulk_export_chunk WHERE job_id = $1', [id]);
    expect(rows[0].n).toBe(0);
  });
});
