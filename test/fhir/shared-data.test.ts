import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateResource } from '../../src/fhir/validation/index.js';
import { fhirRequest, startTestServer, type FhirTestResponse, type TestServer } from '../support/test-server.js';
import { referenceOf } from './bundle-support.js';
import { SHARED_DATA } from '../support/shared-data.js';

/**
 * The shared data (../shared/data beside the repository): every Synthea and Inferno US Core transaction Bundle loaded
 * through `POST /fhir`, as a user would, then read back. About 10,500 resources, whose entries
 * reference each other through `urn:uuid:` fullUrls: this is transaction reference resolution at scale.
 */

const DATA = SHARED_DATA;
const CONCURRENCY = 3;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- FHIR JSON read freely
type Json = any;

interface DataBundle {
  file: string;
  bundle: Json;
}

interface Loaded extends DataBundle {
  response: FhirTestResponse;
}

function jsonFiles(dir: string, pattern: RegExp): string[] {
  return readdirSync(dir)
    .filter((name) => pattern.test(name))
    .sort()
    .map((name) => path.join(dir, name));
}

const FILES = [...jsonFiles(`${DATA}/synthea`, /\.json$/), ...jsonFiles(`${DATA}/inferno`, /^uscore_bundle_.*\.json$/)];

function readJson(file: string): Json {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/**
 * The data's one known defect: an Inferno blood pressure Observation has `effectivePeriod.stop`, an
 * element R4 does not define (Period has `start` and `end`). Unknown elements are warnings, not
 * errors: the resource is stored and reads back as sent.
 */
function periodStops(bundle: Json): { index: number; resource: Json }[] {
  return (bundle.entry as Json[])
    .map((entry, index) => ({ index, resource: entry.resource }))
    .filter(({ resource }) => resource.effectivePeriod?.stop !== undefined);
}

/** Runs `work` over the items, at most `limit` at a time; the results in the items' order. */
async function mapLimit<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * What the client expects back from one entry: its resource with every value equal to a fullUrl
 * of the Bundle replaced by the `Type/id` the server gave that entry (also in narrative links), its
 * id the assigned one, and `meta` without the server's versionId and lastUpdated.
 */
function expectedResource(resource: Json, id: string, identities: Map<string, string>): Json {
  const rewrite = (value: Json, key?: string): Json => {
    if (typeof value === 'string') {
      if (identities.has(value)) return identities.get(value);
      if (key === 'div') return value.replace(/href="(urn:uuid:[^"]+)"/g, (whole, url: string) => (identities.has(url) ? `href="${identities.get(url)}"` : whole));
      return value;
    }
    if (Array.isArray(value)) return value.map((item) => rewrite(item));
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewrite(v, k)]));
    return value;
  };
  return withoutServerMeta({ ...rewrite(resource), id });
}

function withoutServerMeta(resource: Json): Json {
  const { versionId: _versionId, lastUpdated: _lastUpdated, ...meta } = resource.meta ?? {};
  const { meta: _meta, ...rest } = resource;
  return Object.keys(meta).length > 0 ? { ...rest, meta } : rest;
}

/** fullUrl -> `Type/id` of every entry of one Bundle, from the locations of its response entries. */
function identitiesOf(loaded: Loaded): Map<string, string> {
  const identities = new Map<string, string>();
  loaded.bundle.entry.forEach((entry: Json, index: number) => {
    if (entry.fullUrl) identities.set(entry.fullUrl, referenceOf(loaded.response.body.entry[index].response.location));
  });
  return identities;
}

function stringsOf(value: Json): string[] {
  if (typeof value === 'string') return [value];
  if (value && typeof value === 'object') return Object.values(value).flatMap(stringsOf);
  return [];
}

function readBack(server: TestServer, location: string): Promise<FhirTestResponse> {
  return fhirRequest(server.app, 'GET', new URL(location).pathname);
}

async function countsByType(server: TestServer): Promise<Record<string, number>> {
  const { rows } = await server.db.query<{ resource_type: string; n: number }>('SELECT resource_type, count(*)::int AS n FROM resource GROUP BY resource_type');
  return Object.fromEntries(rows.map((row) => [row.resource_type, row.n]));
}

describe('the shared data loads through transaction Bundles and reads back as sent', () => {
  let server: TestServer;
  const loaded: Loaded[] = [];
  const group = readJson(`${DATA}/inferno/uscore_group_1a.json`);

  /** What the server holds before any data is loaded (its own OperationDefinitions, SubscriptionTopics). */
  let ownResources: Record<string, number> = {};

  beforeAll(async () => {
    server = await startTestServer();
    ownResources = await countsByType(server);
  });

  afterAll(async () => {
    await server?.close();
  });

  it('finds the data: 56 Synthea Bundles and 6 Inferno Bundles, all transactions', () => {
    expect(FILES.filter((f) => f.includes('/synthea/'))).toHaveLength(56);
    expect(FILES.filter((f) => f.includes('/inferno/'))).toHaveLength(6);
  });

  it('knows the one element in the data that R4 does not define; $validate reports it as a warning', async () => {
    const defective = FILES.map((file) => ({ file, stops: periodStops(readJson(file)) })).filter(({ stops }) => stops.length > 0);
    expect(defective.map(({ file, stops }) => `${path.basename(file)}#${stops.map((s) => s.index).join(',')}`)).toEqual([
      'uscore_bundle_patient_355.json#266',
    ]);
    const observation = defective[0].stops[0].resource;
    const response = await fhirRequest(server.app, 'POST', '/fhir/Observation/$validate', observation);
    expect(response.status).toBe(200);
    const issues = response.body.issue.map((i: Json) => [i.severity, i.expression?.[0]]);
    expect(issues).toEqual([['warning', 'Observation.effective.ofType(Period).stop']]);
  });

  it(`loads every Bundle with POST /fhir, ${CONCURRENCY} at a time: 200, every entry 2xx`, async () => {
    const bundles: DataBundle[] = FILES.map((file) => ({ file, bundle: readJson(file) }));
    for (const { file, bundle } of bundles) expect(bundle.type, file).toBe('transaction');
    const resourceCount = bundles.reduce((n, { bundle }) => n + bundle.entry.length, 0);

    const started = performance.now();
    const responses = await mapLimit(bundles, CONCURRENCY, ({ bundle }) => fhirRequest(server.app, 'POST', '/fhir', bundle));
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `shared data: ${resourceCount} resources in ${bundles.length} transaction Bundles loaded in ${seconds.toFixed(1)} s ` +
        `(${Math.round(resourceCount / seconds)} resources/s, ${CONCURRENCY} Bundles at a time)`,
    );

    bundles.forEach((data, index) => loaded.push({ ...data, response: responses[index] }));
    for (const { file, bundle, response } of loaded) {
      expect(response.status, `${file}: ${response.text.slice(0, 1000)}`).toBe(200);
      expect(response.body.type).toBe('transaction-response');
      expect(response.body.entry).toHaveLength(bundle.entry.length);
      const statuses = response.body.entry.map((entry: Json) => entry.response.status);
      expect(statuses.filter((status: string) => !/^2\d\d /.test(status)), file).toEqual([]);
      bundle.entry.forEach((entry: Json, i: number) => {
        const answer = response.body.entry[i].response;
        expect(answer.status, `${file} entry ${i}`).toBe('201 Created');
        expect(answer.etag).toBe('W/"1"');
        expect(referenceOf(answer.location).split('/')[0]).toBe(entry.resource.resourceType);
        if (entry.request.method === 'PUT') expect(referenceOf(answer.location)).toBe(entry.request.url);
      });
    }
  }, 300_000);

  it('stores the Group with PUT /fhir/Group/1a', async () => {
    const response = await fhirRequest(server.app, 'PUT', '/fhir/Group/1a', group);
    expect(response.status, response.text).toBe(201);
    expect(response.headers.location).toBe('http://fhir.test/fhir/Group/1a/_history/1');
  });

  it('holds exactly the Bundles\' resources: the count per type is the count of entries per type', async () => {
    expect(loaded).toHaveLength(FILES.length);
    const expected: Record<string, number> = { Group: 1 };
    for (const { bundle } of loaded) {
      for (const entry of bundle.entry) expected[entry.resource.resourceType] = (expected[entry.resource.resourceType] ?? 0) + 1;
    }
    const { rows } = await server.db.query<{ resource_type: string; count: string; deleted: string; history: string }>(
      // The audit records of the loading are not the data's.
      `SELECT r.resource_type, count(*) AS count, count(*) FILTER (WHERE r.deleted) AS deleted,
              (SELECT count(*) FROM resource_history h WHERE h.resource_type = r.resource_type) AS history
         FROM resource r WHERE r.resource_type <> 'AuditEvent' GROUP BY r.resource_type`,
    );
    const stored = Object.fromEntries(
      rows.map((row) => [row.resource_type, Number(row.count) - (ownResources[row.resource_type] ?? 0)]).filter(([, n]) => n !== 0),
    );
    expect(stored).toEqual(expected);
    for (const row of rows) {
      expect(Number(row.deleted), row.resource_type).toBe(0);
      expect(Number(row.history), row.resource_type).toBe(Number(row.count));
    }
    const total = Object.values(expected).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(10_000);
  });

  it('reads every resource back, via its location, as it was sent, with references to the right resources', async () => {
    expect(loaded).toHaveLength(FILES.length);
    const checks: { file: string; index: number; location: string; expected: Json; fullUrls: Set<string> }[] = [];
    for (const item of loaded) {
      const identities = identitiesOf(item);
      // Each fullUrl became its own resource, of its entry's type.
      expect(new Set(identities.values()).size, item.file).toBe(identities.size);
      item.bundle.entry.forEach((entry: Json, index: number) => {
        const location = item.response.body.entry[index].response.location;
        const id = referenceOf(location).split('/')[1];
        checks.push({ file: item.file, index, location, expected: expectedResource(entry.resource, id, identities), fullUrls: new Set(identities.keys()) });
      });
    }
    const groupLocation = 'http://fhir.test/fhir/Group/1a/_history/1';
    checks.push({ file: 'uscore_group_1a.json', index: 0, location: groupLocation, expected: withoutServerMeta(group), fullUrls: new Set() });

    const started = performance.now();
    const mismatches: { where: string; actual: Json; expected: Json }[] = [];
    const leftovers: string[] = [];
    await mapLimit(checks, 8, async ({ file, index, location, expected, fullUrls }) => {
      const response = await readBack(server, location);
      const where = `${path.basename(file)} entry ${index} (${location})`;
      if (response.status !== 200) {
        mismatches.push({ where, actual: response.body, expected });
        return;
      }
      expect(response.body.meta.versionId).toBe('1');
      expect(Number.isNaN(Date.parse(response.body.meta.lastUpdated))).toBe(false);
      const actual = withoutServerMeta(response.body);
      if (!isDeepStrictEqual(actual, expected)) mismatches.push({ where, actual, expected });
      if (stringsOf(actual).some((value) => fullUrls.has(value))) leftovers.push(where);
    });
    const seconds = (performance.now() - started) / 1000;
    console.log(`shared data: ${checks.length} resources read back and compared in ${seconds.toFixed(1)} s`);

    if (mismatches.length > 0) {
      // The first difference in full, for a readable diff; then how many there are.
      expect(mismatches[0].actual, mismatches[0].where).toEqual(mismatches[0].expected);
    }
    expect(mismatches.map((m) => m.where)).toEqual([]);
    // No value anywhere is still the fullUrl of an entry of the same Bundle.
    expect(leftovers).toEqual([]);
  }, 300_000);

  it('resolves each rewritten reference to the resource whose fullUrl it was', async () => {
    // A sample, followed through the API: Synthea's Observations point at their Bundle's Patient and Encounter.
    const item = loaded.find((l) => l.file.includes('/synthea/'));
    expect(item).toBeDefined();
    const { bundle, response } = item as Loaded;
    const identities = identitiesOf(item as Loaded);
    const byFullUrl = new Map<string, number>(bundle.entry.map((entry: Json, index: number) => [entry.fullUrl, index]));
    const observations = bundle.entry
      .map((entry: Json, index: number) => ({ entry, index }))
      .filter(({ entry }: { entry: Json }) => entry.resource.resourceType === 'Observation' && entry.resource.encounter)
      .slice(0, 5);
    expect(observations.length).toBeGreaterThan(0);
    for (const { entry, index } of observations) {
      const observation = (await readBack(server, response.body.entry[index].response.location)).body;
      for (const field of ['subject', 'encounter']) {
        const targetIndex = byFullUrl.get(entry.resource[field].reference) as number;
        expect(targetIndex, field).toBeDefined();
        const target = await fhirRequest(server.app, 'GET', `/fhir/${observation[field].reference}`);
        expect(target.status).toBe(200);
        expect(`${target.body.resourceType}/${target.body.id}`).toBe(referenceOf(response.body.entry[targetIndex].response.location));
        expect(withoutServerMeta(target.body)).toEqual(expectedResource(bundle.entry[targetIndex].resource, target.body.id, identities));
      }
    }
  });
});

describe('base64Binary as the data has it', () => {
  const device = (carrierAIDC: string) => ({ resourceType: 'Device', udiCarrier: [{ deviceIdentifier: '43069338026389', carrierAIDC }] });
  const errorsOf = (resource: object) => validateResource(resource).filter((issue) => issue.severity === 'error');

  it('accepts line-wrapped base64, which R4\'s pattern allows (Inferno\'s Device.udiCarrier.carrierAIDC)', () => {
    expect(errorsOf(device('iVBORw0KGgoAAAAN\nSUhEUgAAAioAAAB2\n'))).toEqual([]);
    expect(errorsOf({ resourceType: 'Binary', contentType: 'text/plain', data: 'aGVs\r\nbG8=' })).toEqual([]);
  });

  it('still rejects what is not base64', () => {
    expect(errorsOf(device('not base64!')).map((issue) => issue.expression?.[0])).toEqual(['Device.udiCarrier[0].carrierAIDC']);
    expect(errorsOf({ resourceType: 'Binary', contentType: 'text/plain', data: 'abc' })).toHaveLength(1);
    const twoCarriers = { resourceType: 'Device', udiCarrier: [{ carrierAIDC: 'aGVs\nbG8=' }, { carrierAIDC: 'a*b' }] };
    expect(errorsOf(twoCarriers)).toHaveLength(1);
  });
});
