import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fhirRequest, startTestServer, type TestServer } from '../support/test-server.js';
import {
  expectBadRequest,
  followNext,
  link,
  matchIds,
  named,
  observation,
  patient,
  practitioner,
  put,
  putBatch,
  ref,
  remove,
  searchOk,
  tick,
  type Resource,
} from './machinery-support.js';

/**
 * `_sort` (search.html#sort) and paging (search.html#count, http.html#paging): exact orders from
 * known values, ties broken the same way every time, resources without the value last; the
 * `next` links visit every match once, in order, even while the data changes between pages.
 */
let server: TestServer;

// Patients s-a..s-i. Without a value: family s-e, s-h, s-i; birthDate s-e, s-g, s-i; gender s-e, s-i.
const PATIENTS: Resource[] = [
  patient('s-c', { ...named('Carter'), birthDate: '1990-05-01', gender: 'male' }),
  patient('s-a', { ...named('Adams'), birthDate: '1970-03-03', gender: 'female' }),
  patient('s-f', { ...named('Zimmer'), birthDate: '2000-12-31', gender: 'unknown' }),
  patient('s-b', { ...named('baker'), birthDate: '1985-01-01', gender: 'male' }),
  patient('s-e', {}),
  patient('s-d', { ...named('Adams'), birthDate: '1990-05-01', gender: 'other' }),
  patient('s-i', { active: true }),
  patient('s-g', { ...named('Adams'), gender: 'female' }),
  patient('s-h', { birthDate: '1985-01-01', gender: 'male' }),
];
/** The order the patients were written in, for `_lastUpdated`. */
const WRITE_ORDER = PATIENTS.map((p) => p.id);

const quantity = (value: number) => ({ valueQuantity: { value, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' } });

beforeAll(async () => {
  server = await startTestServer();
  for (const p of PATIENTS) {
    await put(server, p);
    await tick(); // distinct lastUpdated instants
  }
  await put(
    server,
    observation('q-1', 'hr', { ...quantity(72), subject: ref('Patient/s-b'), effectiveDateTime: '2021-06-01' }),
    observation('q-2', 'hr', { ...quantity(5.5), subject: ref('Patient/s-a'), effectivePeriod: { start: '2020-01-01' } }),
    observation('q-3', 'hr', { ...quantity(100), subject: ref('Patient/s-c') }),
    observation('q-4', 'hr', { valueString: 'n/a', effectivePeriod: { end: '2019-01-01' } }),
    observation('q-5', 'hr', { ...quantity(72), subject: ref('Patient/s-a'), effectiveDateTime: '2022-01-01' }),
  );
  const risk = (id: string, probability?: number): Resource => ({
    resourceType: 'RiskAssessment',
    id,
    status: 'final',
    subject: ref('Patient/s-a'),
    ...(probability === undefined ? {} : { prediction: [{ probabilityDecimal: probability }] }),
  });
  await put(server, risk('ra-1', 0.8), risk('ra-2', 0.15), risk('ra-3'), risk('ra-4', 0.8));
});

afterAll(async () => {
  await server?.close();
});

const ids = async (url: string) => matchIds(await searchOk(server, url));

describe('_sort', () => {
  it('sorts on a string, case-insensitively, ascending and descending; no value last', async () => {
    expect(await ids('/fhir/Patient?_sort=family')).toEqual(['s-a', 's-d', 's-g', 's-b', 's-c', 's-f', 's-e', 's-h', 's-i']);
    expect(await ids('/fhir/Patient?_sort=-family')).toEqual(['s-f', 's-c', 's-b', 's-a', 's-d', 's-g', 's-e', 's-h', 's-i']);
  });

  it('sorts on a date', async () => {
    expect(await ids('/fhir/Patient?_sort=birthdate')).toEqual(['s-a', 's-b', 's-h', 's-c', 's-d', 's-f', 's-e', 's-g', 's-i']);
    expect(await ids('/fhir/Patient?_sort=-birthdate')).toEqual(['s-f', 's-c', 's-d', 's-b', 's-h', 's-a', 's-e', 's-g', 's-i']);
  });

  it('sorts on a token', async () => {
    expect(await ids('/fhir/Patient?_sort=gender')).toEqual(['s-a', 's-g', 's-b', 's-c', 's-h', 's-d', 's-f', 's-e', 's-i']);
    expect(await ids('/fhir/Patient?_sort=-gender')).toEqual(['s-f', 's-d', 's-b', 's-c', 's-h', 's-a', 's-g', 's-e', 's-i']);
  });

  it('sorts on several keys: family,-birthdate and others', async () => {
    expect(await ids('/fhir/Patient?_sort=family,-birthdate')).toEqual(['s-d', 's-a', 's-g', 's-b', 's-c', 's-f', 's-h', 's-e', 's-i']);
    expect(await ids('/fhir/Patient?_sort=family,birthdate')).toEqual(['s-a', 's-d', 's-g', 's-b', 's-c', 's-f', 's-h', 's-e', 's-i']);
    expect(await ids('/fhir/Patient?_sort=-family,birthdate')).toEqual(['s-f', 's-c', 's-b', 's-a', 's-d', 's-g', 's-h', 's-e', 's-i']);
    expect(await ids('/fhir/Patient?_sort=-gender,family')).toEqual(['s-f', 's-d', 's-b', 's-c', 's-h', 's-a', 's-g', 's-e', 's-i']);
  });

  it('sorts on _id and _lastUpdated', async () => {
    const byId = PATIENTS.map((p) => p.id).sort();
    expect(await ids('/fhir/Patient?_sort=_id')).toEqual(byId);
    expect(await ids('/fhir/Patient?_sort=-_id')).toEqual([...byId].reverse());
    expect(await ids('/fhir/Patient?_sort=_lastUpdated')).toEqual(WRITE_ORDER);
    expect(await ids('/fhir/Patient?_sort=-_lastUpdated')).toEqual([...WRITE_ORDER].reverse());
  });

  it('sorts on a quantity and a number', async () => {
    expect(await ids('/fhir/Observation?_sort=value-quantity')).toEqual(['q-2', 'q-1', 'q-5', 'q-3', 'q-4']);
    expect(await ids('/fhir/Observation?_sort=-value-quantity')).toEqual(['q-3', 'q-1', 'q-5', 'q-2', 'q-4']);
    expect(await ids('/fhir/RiskAssessment?_sort=probability')).toEqual(['ra-2', 'ra-1', 'ra-4', 'ra-3']);
    expect(await ids('/fhir/RiskAssessment?_sort=-probability')).toEqual(['ra-1', 'ra-4', 'ra-2', 'ra-3']);
  });

  it('sorts on a date with open periods: no start is the earliest, no end the latest', async () => {
    // q-4 ends 2019 (no start), q-2 starts 2020 (no end), q-1 2021, q-5 2022, q-3 has no date.
    expect(await ids('/fhir/Observation?_sort=date')).toEqual(['q-4', 'q-2', 'q-1', 'q-5', 'q-3']);
    expect(await ids('/fhir/Observation?_sort=-date')).toEqual(['q-2', 'q-5', 'q-1', 'q-4', 'q-3']);
  });

  it('sorts on a reference', async () => {
    expect(await ids('/fhir/Observation?_sort=subject')).toEqual(['q-2', 'q-5', 'q-1', 'q-3', 'q-4']);
    expect(await ids('/fhir/Observation?_sort=-subject,-value-quantity')).toEqual(['q-3', 'q-1', 'q-5', 'q-2', 'q-4']);
  });

  it('sorts by the criteria-filtered set only', async () => {
    expect(await ids('/fhir/Patient?gender=male&_sort=-birthdate')).toEqual(['s-c', 's-b', 's-h']);
  });

  it('breaks ties the same way every time', async () => {
    for (const sort of ['gender', 'family', '-birthdate', '_lastUpdated']) {
      const first = await ids(`/fhir/Patient?_sort=${sort}`);
      const second = await ids(`/fhir/Patient?_sort=${sort}`);
      expect(second).toEqual(first);
    }
  });

  it('refuses a sort on what cannot be sorted (400)', async () => {
    await expectBadRequest(server, '/fhir/Observation?_sort=code-value-quantity');
    await expectBadRequest(server, '/fhir/Observation?_sort=nonsense');
  });
});

/** Every page of a search by `next`, checking the page sizes; the concatenated match ids. */
async function walk(url: string, count: number): Promise<string[][]> {
  const { pages } = await followNext(server, url);
  pages.forEach((page, i) => {
    if (i < pages.length - 1) expect(page).toHaveLength(count);
    else expect(page.length).toBeGreaterThan(0);
  });
  return pages;
}

const SORTS = ['', '_sort=family', '_sort=-family', '_sort=family,-birthdate', '_sort=-gender,family', '_sort=-birthdate', '_sort=_lastUpdated'];

describe('paging', () => {
  it('links a page to self and first, and to next and previous when there are such pages', async () => {
    const first = await searchOk(server, '/fhir/Patient?_sort=family&_count=4');
    expect(matchIds(first)).toEqual(['s-a', 's-d', 's-g', 's-b']);
    expect(first.body.total).toBe(9);
    expect(link(first, 'self')).toMatch(/^\/fhir\/Patient\?/);
    expect(link(first, 'first')).toBeDefined();
    expect(link(first, 'previous')).toBeUndefined();
    const second = await searchOk(server, link(first, 'next') as string);
    expect(matchIds(second)).toEqual(['s-c', 's-f', 's-e', 's-h']);
    expect(second.body.total).toBe(9);
    expect(link(second, 'previous')).toBeDefined();
    const third = await searchOk(server, link(second, 'next') as string);
    expect(matchIds(third)).toEqual(['s-i']);
    expect(link(third, 'next')).toBeUndefined();
    expect(link(third, 'previous')).toBeDefined();
    // first leads back to the first page; self repeats the page itself.
    expect(matchIds(await searchOk(server, link(third, 'first') as string))).toEqual(['s-a', 's-d', 's-g', 's-b']);
    expect(matchIds(await searchOk(server, link(second, 'self') as string))).toEqual(['s-c', 's-f', 's-e', 's-h']);
    // The links keep the search's parameters.
    for (const response of [first, second, third]) {
      for (const relation of ['self', 'first', 'next', 'previous']) {
        const url = link(response, relation);
        if (url) expect(new URL(url, 'http://x').searchParams.get('_sort')).toBe('family');
      }
    }
  });

  it('has no next link when the last page is exactly full', async () => {
    const pages = await walk('/fhir/Patient?_count=3', 3);
    expect(pages).toHaveLength(3);
    const single = await searchOk(server, '/fhir/Patient?_count=9');
    expect(matchIds(single)).toHaveLength(9);
    expect(link(single, 'next')).toBeUndefined();
  });

  it('visits every match exactly once and in order by following next, with and without _sort', async () => {
    for (const sort of SORTS) {
      const all = await ids(`/fhir/Patient?${sort}&_count=100`);
      expect(all).toHaveLength(9);
      for (const count of [1, 2, 4]) {
        const pages = await walk(`/fhir/Patient?${sort}&_count=${count}`, count);
        expect(pages.flat(), `${sort} _count=${count}`).toEqual(all);
      }
    }
  });

  it('goes back to the exact previous page by following previous, with and without _sort', async () => {
    for (const sort of SORTS) {
      for (const count of [1, 2, 4]) {
        const { pages, responses } = await followNext(server, `/fhir/Patient?${sort}&_count=${count}`);
        let response = responses[responses.length - 1];
        for (let i = pages.length - 2; i >= 0; i--) {
          const previous = link(response, 'previous');
          expect(previous, `${sort} _count=${count}: page ${i + 2} has a previous link`).toBeDefined();
          response = await searchOk(server, previous as string);
          expect(matchIds(response), `${sort} _count=${count}: back to page ${i + 1}`).toEqual(pages[i]);
        }
        expect(link(response, 'previous'), `${sort} _count=${count}: the first page has no previous`).toBeUndefined();
        // And forward again from a page reached backwards.
        if (pages.length > 1) {
          expect(matchIds(await searchOk(server, link(response, 'next') as string))).toEqual(pages[1]);
        }
      }
    }
  });

  it('pages forward and back through date (with infinite ends), quantity, reference and number sorts', async () => {
    for (const url of ['/fhir/Observation?_sort=date', '/fhir/Observation?_sort=-date', '/fhir/Observation?_sort=-value-quantity', '/fhir/Observation?_sort=subject,value-quantity', '/fhir/RiskAssessment?_sort=-probability']) {
      const all = await ids(`${url}&_count=100`);
      const { pages, responses } = await followNext(server, `${url}&_count=1`);
      expect(pages.flat(), url).toEqual(all);
      let response = responses[responses.length - 1];
      const back: string[][] = [];
      while (link(response, 'previous')) {
        response = await searchOk(server, link(response, 'previous') as string);
        back.unshift(matchIds(response));
      }
      expect(back, `${url} backwards`).toEqual(pages.slice(0, -1));
    }
  });

  it('refuses a tampered _cursor (400)', async () => {
    const first = await searchOk(server, '/fhir/Patient?_sort=birthdate&_count=2');
    const next = new URL(link(first, 'next') as string, 'http://x');
    const cursor = next.searchParams.get('_cursor') as string;
    const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const withCursor = (value: string, query = '_sort=birthdate&_count=2') => `/fhir/Patient?${query}&_cursor=${encodeURIComponent(value)}`;

    expect(matchIds(await searchOk(server, withCursor(cursor)))).toEqual(['s-h', 's-c']);
    await expectBadRequest(server, withCursor('garbage'));
    await expectBadRequest(server, withCursor(`${cursor}x`));
    await expectBadRequest(server, withCursor(encode({ not: 'a cursor' })));
    await expectBadRequest(server, withCursor(encode(['n', [1, 2, 3], null])));
    // A sort value that is not of the sort key's type (a date here).
    const values = [...decoded[1]];
    values[0] = 'not-a-date';
    await expectBadRequest(server, withCursor(encode([decoded[0], values, decoded[2]])));
    // A cursor of another search (another number of sort keys).
    await expectBadRequest(server, withCursor(cursor, '_sort=birthdate,family&_count=2'));
    await expectBadRequest(server, withCursor(cursor, '_count=2'));
  });

  it('refuses a tampered numeric sort value in a _cursor (400)', async () => {
    const first = await searchOk(server, '/fhir/Observation?_sort=value-quantity&_count=2');
    const cursor = new URL(link(first, 'next') as string, 'http://x').searchParams.get('_cursor') as string;
    const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    decoded[1][0] = 'twelve';
    const tampered = Buffer.from(JSON.stringify(decoded)).toString('base64url');
    await expectBadRequest(server, `/fhir/Observation?_sort=value-quantity&_count=2&_cursor=${tampered}`);
  });

  it('reports the total as asked: _total=none, estimate, accurate', async () => {
    const none = await searchOk(server, '/fhir/Patient?_total=none&_count=4');
    expect(none.body.total).toBeUndefined();
    expect(matchIds(none)).toHaveLength(4);
    const nextNone = await searchOk(server, link(none, 'next') as string);
    expect(nextNone.body.total).toBeUndefined();

    const accurate = await searchOk(server, '/fhir/Patient?_total=accurate&gender=male&_count=1');
    expect(accurate.body.total).toBe(3);
    expect((await searchOk(server, link(accurate, 'next') as string)).body.total).toBe(3);

    const estimate = await searchOk(server, '/fhir/Patient?_total=estimate');
    expect(Number.isInteger(estimate.body.total)).toBe(true);
    expect(estimate.body.total).toBeGreaterThanOrEqual(0);
    expect(matchIds(estimate)).toHaveLength(9);

    await expectBadRequest(server, '/fhir/Patient?_total=some');
  });

  it('refuses a _count that is not a non-negative integer (400)', async () => {
    await expectBadRequest(server, '/fhir/Patient?_count=abc');
    await expectBadRequest(server, '/fhir/Patient?_count=-1');
    await expectBadRequest(server, '/fhir/Patient?_count=2.5');
  });
});

describe('paging while the data changes', () => {
  // Practitioners ch-1..ch-9, family F10..F90: only these tests write Practitioners.
  const family = (id: string) => `F${id.slice(3)}0`;
  const seed = () => Array.from({ length: 9 }, (_, i) => practitioner(`ch-${i + 1}`, family(`ch-${i + 1}`)));

  async function reset(): Promise<void> {
    const { rows } = await server.db.query<{ id: string }>(`SELECT id FROM resource WHERE resource_type = 'Practitioner' AND NOT deleted`);
    for (const row of rows) await remove(server, `Practitioner/${row.id}`);
    await put(server, ...seed());
    await tick(5);
  }

  /** Checks one walk: no id twice, and every id in `mustSee` seen once. */
  function expectVisitedOnce(visited: string[], mustSee: string[]): void {
    expect(new Set(visited).size, `visited twice: ${visited.join(', ')}`).toBe(visited.length);
    for (const id of mustSee) expect(visited, `${id} was skipped`).toContain(id);
  }

  for (const sort of ['_sort=family', '_sort=-family', '', '_sort=_lastUpdated', '_sort=-_lastUpdated']) {
    it(`neither repeats nor skips a match when resources are created, updated and deleted between pages (${sort || 'no _sort'})`, async () => {
      await reset();
      const first = await searchOk(server, `/fhir/Practitioner?${sort}&_count=3`);
      const seen = matchIds(first);
      expect(seen).toHaveLength(3);
      const unseen = seed().map((p) => p.id).filter((id) => !seen.includes(id));
      await tick(5);

      // New resources before and after the cursor in every order.
      await put(server, practitioner('ch-00', 'F00'), practitioner('ch-99', 'F99'));
      // Update every seen resource: one keeps its sort value, one changes it to the far end, one moves it back.
      await put(server, practitioner(seen[0], family(seen[0]), { gender: 'female' }));
      await put(server, practitioner(seen[1], 'F999'));
      await put(server, practitioner(seen[2], 'F000'));
      // Delete one unseen, update one unseen (it changed: may be skipped, not repeated).
      await remove(server, `Practitioner/${unseen[0]}`);
      await put(server, practitioner(unseen[1], family(unseen[1]), { active: true }));
      const untouched = unseen.slice(2);

      const rest = await followNext(server, link(first, 'next') as string);
      const visited = [...seen, ...rest.pages.flat()];
      expectVisitedOnce(visited, untouched);
      expect(visited).not.toContain(unseen[0]);
      // The untouched ones keep their relative order.
      const all = await ids(`/fhir/Practitioner?${sort}&_count=100`);
      expect(visited.filter((id) => untouched.includes(id))).toEqual(all.filter((id) => untouched.includes(id)));
    });
  }

  it('keeps visiting once when the data changes again between later pages', async () => {
    await reset();
    const first = await searchOk(server, '/fhir/Practitioner?_sort=family&_count=2');
    const visited = matchIds(first);
    expect(visited).toEqual(['ch-1', 'ch-2']);
    await put(server, practitioner('ch-1', 'F55'));
    const second = await searchOk(server, link(first, 'next') as string);
    visited.push(...matchIds(second));
    await put(server, practitioner('ch-3', 'F95'), practitioner('ch-15', 'F15'), practitioner('ch-85', 'F85'));
    await remove(server, 'Practitioner/ch-5');
    const rest = await followNext(server, link(second, 'next') as string);
    visited.push(...rest.pages.flat());
    expectVisitedOnce(visited, ['ch-4', 'ch-6', 'ch-7', 'ch-8', 'ch-9']);
    expect(visited).not.toContain('ch-5');
  });
});

describe('page size', () => {
  let basics: TestServer;

  beforeAll(async () => {
    basics = await startTestServer();
    // Basic is also what the server's own SubscriptionTopics are: these are told apart by their code.
    const resources = Array.from({ length: 1005 }, (_, i) => ({
      resourceType: 'Basic',
      id: `b-${String(i).padStart(4, '0')}`,
      code: { coding: [{ system: 'urn:test', code: 'paging' }] },
    }));
    for (let i = 0; i < resources.length; i += 250) await putBatch(basics, resources.slice(i, i + 250));
  }, 120_000);

  afterAll(async () => {
    await basics?.close();
  });

  it('gives 20 matches a page by default', async () => {
    const response = await fhirRequest(basics.app, 'GET', '/fhir/Basic?code=urn:test|paging');
    expect(response.status).toBe(200);
    expect(response.body.total).toBe(1005);
    expect(response.body.entry).toHaveLength(20);
    expect(response.body.entry.map((e: { resource: { id: string } }) => e.resource.id)[19]).toBe('b-0019');
    expect(link(response, 'next')).toBeDefined();
  });

  it('gives at most 1000 matches a page, whatever _count asks', async () => {
    const response = await fhirRequest(basics.app, 'GET', '/fhir/Basic?code=urn:test|paging&_count=5000');
    expect(response.status).toBe(200);
    expect(response.body.entry).toHaveLength(1000);
    const next = link(response, 'next');
    expect(next).toBeDefined();
    const rest = await fhirRequest(basics.app, 'GET', next as string);
    expect(rest.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).toEqual(['b-1000', 'b-1001', 'b-1002', 'b-1003', 'b-1004']);
    expect(link(rest, 'next')).toBeUndefined();
  });
});

describe('a total that costs too much to count', () => {
  let timed: TestServer;

  beforeAll(async () => {
    timed = await startTestServer({ SEARCH_COUNT_TIMEOUT_MS: '100' });
    await putBatch(timed, PATIENTS);
  });

  afterAll(async () => {
    await timed?.close();
  });

  /** Waits until a statement that starts with `text` waits for a lock on search_token. */
  async function waitingForTheIndex(text: string): Promise<void> {
    await vi.waitFor(
      async () => {
        const { rows } = await timed.db.query(
          `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid)
            WHERE l.relation = 'search_token'::regclass AND NOT l.granted AND a.query LIKE $1`,
          [`${text}%`],
        );
        expect(rows[0].n).toBe(1);
      },
      { timeout: 10_000 },
    );
  }

  /**
   * Runs a search whose count is held up for `ms`. A search reads its page, then counts. Here a
   * first lock on the index table makes the page wait; a second one queues behind the page; when
   * the first is released the page goes through, and the second, granted next, holds up the count.
   */
  async function withCountHeldUp<T>(ms: number, search: () => Promise<T>): Promise<T> {
    const [first, second] = [await timed.db.pool.connect(), await timed.db.pool.connect()];
    const lock = (client: typeof first) => client.query('BEGIN').then(() => client.query('LOCK TABLE search_token IN ACCESS EXCLUSIVE MODE'));
    try {
      await lock(first);
      const result = search();
      await waitingForTheIndex('WITH page');
      const secondHeld = lock(second);
      await waitingForTheIndex('LOCK TABLE');
      await first.query('COMMIT');
      await secondHeld;
      setTimeout(() => void second.query('COMMIT'), ms);
      return await result;
    } finally {
      await first.query('ROLLBACK').catch(() => undefined);
      first.release();
      second.release();
    }
  }

  it('is counted when the count takes less than SEARCH_COUNT_TIMEOUT_MS', async () => {
    const response = await searchOk(timed, '/fhir/Patient?gender=male');
    expect(response.body.total).toBe(3);
  });

  /** Runs a search while the index table is locked, until a statement of it starting with `text` waits, and `ms` after. */
  async function withIndexLocked<T>(text: string, ms: number, search: () => Promise<T>): Promise<T> {
    const holder = await timed.db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE search_token IN ACCESS EXCLUSIVE MODE');
      const result = search();
      await waitingForTheIndex(text);
      setTimeout(() => void holder.query('COMMIT'), ms);
      return await result;
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
    }
  }

  it('is left out when counting takes longer, and the page is still given', async () => {
    // The first page is read with its count, within the time limit; past it, the page is read alone.
    const response = await withIndexLocked('WITH page', 0, () => searchOk(timed, '/fhir/Patient?gender=male&_sort=_id&_count=2'));
    expect(response.body.total).toBeUndefined();
    expect(matchIds(response)).toEqual(['s-b', 's-c']);
  });

  it('is not tried again for a while for the same search, which the count would hold up again', async () => {
    const again = await searchOk(timed, '/fhir/Patient?gender=male&_sort=_id&_count=2');
    expect(again.body.total).toBeUndefined();
    expect(matchIds(again)).toEqual(['s-b', 's-c']);
    // Other searches are counted as usual.
    expect((await searchOk(timed, '/fhir/Patient?gender=female&_count=1')).body.total).toBe(2);
  });

  it('is counted however long it takes for _summary=count, whose answer the count is', async () => {
    const response = await withIndexLocked('SELECT count', 600, () => searchOk(timed, '/fhir/Patient?gender=male&_summary=count'));
    expect(response.body.total).toBe(3);
  });

  it('is counted however long it takes with _total=accurate', async () => {
    const response = await withCountHeldUp(600, () => searchOk(timed, '/fhir/Patient?gender=male&_total=accurate&_count=2'));
    expect(response.body.total).toBe(3);
  });
});
