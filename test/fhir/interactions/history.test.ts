import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FHIR_BASE, fhirRequest, startTestServer, type FhirTestResponse, type TestServer } from '../../support/test-server.js';
import { expectOperationOutcome, patient, tick } from './support.js';

interface HistoryEntry {
  fullUrl?: string;
  resource?: { resourceType: string; id: string; meta: { versionId: string; lastUpdated: string }; [key: string]: unknown };
  request: { method: string; url: string };
  response: { status: string; etag: string; lastModified: string };
}

/** history: GET [type]/[id]/_history, [type]/_history, _history (http.html#history). */
describe('history', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server.close();
  });

  const get = (url: string) => fhirRequest(server.app, 'GET', url);

  /** Follows a Bundle link, which is absolute, through the in-process server. */
  const follow = (url: string) => get(url.slice(FHIR_BASE.length - '/fhir'.length));

  const entries = (response: FhirTestResponse): HistoryEntry[] => response.body.entry ?? [];
  const versionsOf = (response: FhirTestResponse) =>
    entries(response).map((e) => `${e.request.url.split('/').slice(0, 2).join('/')}@${e.response.etag}:${e.request.method}`);

  /** A resource written three times (create, update, delete) and the responses of the writes. */
  async function createUpdateDelete(type: string, body: Record<string, unknown>, change: Record<string, unknown>) {
    const created = await fhirRequest(server.app, 'POST', `/fhir/${type}`, body);
    const id = created.body.id as string;
    const updated = await fhirRequest(server.app, 'PUT', `/fhir/${type}/${id}`, { ...body, ...change, id });
    await fhirRequest(server.app, 'DELETE', `/fhir/${type}/${id}`);
    expect([created.status, updated.status]).toEqual([201, 200]);
    return { id, created: created.body, updated: updated.body };
  }

  describe('instance history', () => {
    it('answers a history Bundle of every version, newest first, deleted versions included', async () => {
      const { id, created, updated } = await createUpdateDelete('Patient', patient(), { active: true });
      const response = await get(`/fhir/Patient/${id}/_history`);

      expect(response.status).toBe(200);
      expect(response.body.resourceType).toBe('Bundle');
      expect(response.body.type).toBe('history');
      const list = entries(response);
      expect(list.map((e) => [e.request.method, e.response.etag])).toEqual([
        ['DELETE', 'W/"3"'],
        ['PUT', 'W/"2"'],
        ['POST', 'W/"1"'],
      ]);
      expect(list[0].resource).toBeUndefined();
      expect(list[0].request.url).toBe(`Patient/${id}`);
      expect(list[1].resource).toEqual(updated);
      expect(list[1].request.url).toBe(`Patient/${id}`);
      expect(list[2].resource).toEqual(created);
      expect(list[2].request.url).toBe('Patient');
      for (const entry of list) {
        expect(entry.fullUrl).toBe(`${FHIR_BASE}/Patient/${id}`);
        expect(Number.isNaN(Date.parse(entry.response.lastModified))).toBe(false);
      }
      expect(list.map((e) => e.response.status)).toEqual([expect.stringMatching(/^20[04]/), '200 OK', '201 Created']);
    });

    it('reports a PUT that created the resource as 201, as the PUT was answered', async () => {
      const created = await fhirRequest(server.app, 'PUT', '/fhir/Patient/put-created', { resourceType: 'Patient', id: 'put-created' });
      expect(created.status).toBe(201);
      await fhirRequest(server.app, 'PUT', '/fhir/Patient/put-created', { resourceType: 'Patient', id: 'put-created', gender: 'other' });
      const list = entries(await get('/fhir/Patient/put-created/_history'));
      expect(list.map((e) => [e.request.method, e.response.status])).toEqual([
        ['PUT', '200 OK'],
        ['PUT', '201 Created'],
      ]);
    });

    it('answers 404 for a resource that never existed', async () => {
      expectOperationOutcome(await get('/fhir/Patient/never-was/_history'), 404);
    });

    it('answers 400 for an invalid id', async () => {
      expectOperationOutcome(await get('/fhir/Patient/bad_id/_history'), 400);
    });

    it('has a self link', async () => {
      const { id } = await createUpdateDelete('Patient', patient(), { active: true });
      const response = await get(`/fhir/Patient/${id}/_history`);
      expect(response.body.link).toContainEqual({ relation: 'self', url: `${FHIR_BASE}/Patient/${id}/_history` });
    });
  });

  describe('type history', () => {
    it('lists the versions of all resources of the type, newest first, and no other type', async () => {
      const a = await createUpdateDelete('Device', { resourceType: 'Device', status: 'active' }, { manufacturer: 'Acme' });
      const b = await createUpdateDelete('Device', { resourceType: 'Device', status: 'inactive' }, { manufacturer: 'Acme' });
      await fhirRequest(server.app, 'POST', '/fhir/Patient', patient());

      const response = await get('/fhir/Device/_history');
      expect(response.status).toBe(200);
      expect(response.body.type).toBe('history');
      expect(versionsOf(response)).toEqual([
        `Device/${b.id}@W/"3":DELETE`,
        `Device/${b.id}@W/"2":PUT`,
        'Device@W/"1":POST',
        `Device/${a.id}@W/"3":DELETE`,
        `Device/${a.id}@W/"2":PUT`,
        'Device@W/"1":POST',
      ]);
      expect(entries(response)[2].resource?.id).toBe(b.id);
      expect(entries(response)[5].resource?.id).toBe(a.id);
    });

    it('answers 404 for an unknown type', async () => {
      expectOperationOutcome(await get('/fhir/Gadget/_history'), 404);
    });
  });

  describe('system history', () => {
    it('lists the versions of every type, newest first', async () => {
      const org = await fhirRequest(server.app, 'POST', '/fhir/Organization', { resourceType: 'Organization', name: 'Acme' });
      const pat = await fhirRequest(server.app, 'POST', '/fhir/Patient', patient());

      const response = await get('/fhir/_history?_count=10');
      expect(response.status).toBe(200);
      expect(response.body.type).toBe('history');
      // The audit records of these writes are in the history too; they are not what this test is about.
      const versions = entries(response).filter((e) => e.resource?.resourceType !== 'AuditEvent');
      expect(versions.slice(0, 2).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`)).toEqual([
        `Patient/${pat.body.id}`,
        `Organization/${org.body.id}`,
      ]);
    });

    it('holds as many entries as resource_history has rows', async () => {
      const historyRows = async () => (await server.db.query('SELECT count(*)::int AS n FROM resource_history')).rows[0].n as number;
      // The audit log writes its AuditEvents in the background: counted before and after, so that
      // none arrived while the history was read.
      let before: number;
      let response: Awaited<ReturnType<typeof get>>;
      let attempts = 0;
      do {
        before = await historyRows();
        response = await get('/fhir/_history?_count=1000');
      } while (before !== (await historyRows()) && ++attempts < 10);
      expect(entries(response)).toHaveLength(before);
    });
  });

  describe('paging', () => {
    it('with _count, follows next links through every version exactly once, newest first', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const created = await fhirRequest(server.app, 'POST', '/fhir/Substance', { resourceType: 'Substance', code: { text: `s${i}` } });
        ids.push(created.body.id);
        await fhirRequest(server.app, 'PUT', `/fhir/Substance/${created.body.id}`, { ...created.body, status: 'active' });
      }
      await fhirRequest(server.app, 'DELETE', `/fhir/Substance/${ids[0]}`);
      const all = versionsOf(await get('/fhir/Substance/_history?_count=1000'));
      expect(all).toHaveLength(9);

      const seen: string[] = [];
      let response = await get('/fhir/Substance/_history?_count=2');
      let pages = 1;
      for (;;) {
        expect(response.status).toBe(200);
        expect(entries(response).length).toBeLessThanOrEqual(2);
        seen.push(...versionsOf(response));
        const next = response.body.link?.find((l: { relation: string }) => l.relation === 'next');
        if (!next) break;
        expect(next.url).toMatch(new RegExp(`^${FHIR_BASE}/Substance/_history\\?`));
        expect(next.url).toContain('_count=2');
        response = await follow(next.url);
        pages++;
      }
      expect(pages).toBe(5);
      expect(seen).toEqual(all);
    });

    it('keeps its pages stable while new versions are written', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const created = await fhirRequest(server.app, 'POST', '/fhir/Location', { resourceType: 'Location', name: `L${i}` });
        ids.push(created.body.id);
      }
      const first = await get('/fhir/Location/_history?_count=2');
      await fhirRequest(server.app, 'POST', '/fhir/Location', { resourceType: 'Location', name: 'late' });

      const next = first.body.link.find((l: { relation: string }) => l.relation === 'next');
      const second = await follow(next.url);
      const seen = [...entries(first), ...entries(second)].map((e) => e.resource?.id);
      expect(seen).toEqual([...ids].reverse());
    });

    it('has no next link when everything fits on the page', async () => {
      const created = await fhirRequest(server.app, 'POST', '/fhir/Patient', patient());
      const response = await get(`/fhir/Patient/${created.body.id}/_history?_count=5`);
      expect(response.body.link.map((l: { relation: string }) => l.relation)).toEqual(['self']);
    });

    it('answers 400 for a _count that is not a number', async () => {
      expectOperationOutcome(await get('/fhir/_history?_count=many'), 400);
    });
  });

  describe('_since and _at', () => {
    it('_since lists only the versions written at or after the instant', async () => {
      const created = await fhirRequest(server.app, 'POST', '/fhir/Patient', patient());
      const id = created.body.id;
      await tick();
      const since = new Date().toISOString();
      await tick();
      await fhirRequest(server.app, 'PUT', `/fhir/Patient/${id}`, patient({ id, active: true }));

      const response = await get(`/fhir/Patient/${id}/_history?_since=${encodeURIComponent(since)}`);
      expect(response.status).toBe(200);
      expect(entries(response).map((e) => e.response.etag)).toEqual(['W/"2"']);

      const system = await get(`/fhir/_history?_since=${encodeURIComponent(since)}`);
      expect(versionsOf(system).filter((v) => !v.startsWith('AuditEvent'))).toEqual([`Patient/${id}@W/"2":PUT`]);
      // The same instant in another zone, its `+` sent unencoded (it arrives as a space).
      const plus = new Date(Date.parse(since) + 2 * 3600_000).toISOString().replace('Z', '+02:00');
      const unencoded = await get(`/fhir/Patient/${id}/_history?_since=${plus}`);
      expect(entries(unencoded).map((e) => e.response.etag)).toEqual(['W/"2"']);
    });

    it('_since in the future lists nothing', async () => {
      const response = await get('/fhir/_history?_since=2999-01-01T00:00:00Z');
      expect(response.status).toBe(200);
      expect(entries(response)).toEqual([]);
    });

    it('_at lists the versions that were current at that instant', async () => {
      const created = await fhirRequest(server.app, 'POST', '/fhir/Patient', patient());
      const id = created.body.id;
      await tick();
      const whileFirst = new Date().toISOString();
      await tick();
      await fhirRequest(server.app, 'PUT', `/fhir/Patient/${id}`, patient({ id, active: true }));
      await tick();
      const whileSecond = new Date().toISOString();

      const atFirst = await get(`/fhir/Patient/${id}/_history?_at=${encodeURIComponent(whileFirst)}`);
      expect(atFirst.status).toBe(200);
      expect(entries(atFirst).map((e) => e.response.etag)).toEqual(['W/"1"']);

      const atSecond = await get(`/fhir/Patient/${id}/_history?_at=${encodeURIComponent(whileSecond)}`);
      expect(entries(atSecond).map((e) => e.response.etag)).toEqual(['W/"2"']);
    });

    it.each(['_since=yesterday', '_since=2024-13-01', '_at=now'])('answers 400 for %s', async (query) => {
      const response = await get(`/fhir/_history?${query}`);
      expectOperationOutcome(response, 400);
      expect(response.body.issue[0].diagnostics).toContain(query.split('=')[0]);
    });

    it('answers 400 for a parameter history does not know', async () => {
      expectOperationOutcome(await get('/fhir/_history?name=peter'), 400);
    });
  });
});
