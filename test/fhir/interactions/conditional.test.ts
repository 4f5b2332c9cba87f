import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FHIR_BASE, fhirRequest, startTestServer, type TestServer } from '../../support/test-server.js';
import { expectOperationOutcome, issueText, patient, rowCounts, storedRows } from './support.js';

const SYSTEM = 'http://hospital.example.org/mrn';

/**
 * Conditional interactions (http.html#ccreate, #cond-update, #cond-patch, #cdelete): the criteria
 * select none, one or several resources, and each interaction has a rule for each case. Criteria
 * can use `_id` and `identifier` for now; anything else is refused rather than ignored.
 */
describe('conditional interactions', () => {
  let server: TestServer;
  let counter = 0;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server.close();
  });

  /** An MRN no other test uses, so that each test controls how many resources match. */
  const freshMrn = () => `mrn-${++counter}-${Date.now()}`;
  const withMrn = (mrn: string, extra: Record<string, unknown> = {}) => patient({ identifier: [{ system: SYSTEM, value: mrn }], ...extra });
  const criteria = (mrn: string) => `identifier=${encodeURIComponent(`${SYSTEM}|${mrn}`)}`;

  async function createWithMrn(mrn: string, extra: Record<string, unknown> = {}): Promise<string> {
    const created = await fhirRequest(server.app, 'POST', '/fhir/Patient', withMrn(mrn, extra));
    expect(created.status).toBe(201);
    return created.body.id;
  }

  async function countWithMrn(mrn: string): Promise<number> {
    const { rows } = await server.db.query(
      `SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Patient' AND NOT deleted AND content -> 'identifier' @> $1::jsonb`,
      [JSON.stringify([{ value: mrn }])],
    );
    return rows[0].n;
  }

  async function expectNothingWritten(action: () => Promise<void>) {
    const before = await rowCounts(server);
    await action();
    expect(await rowCounts(server)).toEqual(before);
  }

  describe('conditional create (If-None-Exist)', () => {
    const post = (body: unknown, ifNoneExist: string) =>
      fhirRequest(server.app, 'POST', '/fhir/Patient', body, { 'if-none-exist': ifNoneExist });

    it('creates the resource when nothing matches: 201', async () => {
      const mrn = freshMrn();
      const response = await post(withMrn(mrn), criteria(mrn));

      expect(response.status).toBe(201);
      expect(response.headers.location).toBe(`${FHIR_BASE}/Patient/${response.body.id}/_history/1`);
      expect(await countWithMrn(mrn)).toBe(1);
    });

    it('answers 200 with the existing resource and creates nothing when one matches', async () => {
      const mrn = freshMrn();
      const existing = await createWithMrn(mrn, { gender: 'female' });

      await expectNothingWritten(async () => {
        const response = await post(withMrn(mrn, { gender: 'male' }), criteria(mrn));
        expect(response.status).toBe(200);
        expect(response.body.id).toBe(existing);
        expect(response.body.gender).toBe('female');
        expect(response.headers.etag).toBe('W/"1"');
        expect(response.headers.location).toBe(`${FHIR_BASE}/Patient/${existing}/_history/1`);
      });
    });

    it('answers 412 and creates nothing when several match', async () => {
      const mrn = freshMrn();
      await createWithMrn(mrn);
      await createWithMrn(mrn);

      await expectNothingWritten(async () => {
        expectOperationOutcome(await post(withMrn(mrn), criteria(mrn)), 412);
      });
    });

    it('matches on _id too', async () => {
      const id = await createWithMrn(freshMrn());
      await expectNothingWritten(async () => {
        const response = await post(patient(), `_id=${id}`);
        expect(response.status).toBe(200);
        expect(response.body.id).toBe(id);
      });
    });

    it('does not match deleted resources', async () => {
      const mrn = freshMrn();
      const id = await createWithMrn(mrn);
      await fhirRequest(server.app, 'DELETE', `/fhir/Patient/${id}`);

      const response = await post(withMrn(mrn), criteria(mrn));
      expect(response.status).toBe(201);
      expect(response.body.id).not.toBe(id);
    });

    it('creates exactly one resource when two identical conditional creates race', async () => {
      const mrn = freshMrn();
      const responses = await Promise.all([post(withMrn(mrn), criteria(mrn)), post(withMrn(mrn), criteria(mrn))]);

      expect(responses.map((r) => r.status).sort()).toEqual([200, 201]);
      expect(responses[0].body.id).toBe(responses[1].body.id);
      expect(await countWithMrn(mrn)).toBe(1);
    });

    it('answers 400 naming a parameter that Patient does not define, and creates nothing', async () => {
      await expectNothingWritten(async () => {
        const response = await post(patient(), 'favourite-colour=blue');
        expectOperationOutcome(response, 400);
        expect(issueText(response)).toMatch(/Unknown search parameter "favourite-colour"/);
      });
    });

    it.each([
      ['?identifier=…', (mrn: string) => `?${criteria(mrn)}`],
      ['Patient?identifier=…', (mrn: string) => `Patient?${criteria(mrn)}`],
    ])('takes the criteria written as a relative URL, %s', async (_form, ifNoneExist) => {
      const mrn = freshMrn();
      const existing = await createWithMrn(mrn);

      await expectNothingWritten(async () => {
        const response = await post(withMrn(mrn), ifNoneExist(mrn));
        expect(response.status, response.text).toBe(200);
        expect(response.body.id).toBe(existing);
      });
    });

    it('answers 400 when the criteria name another type than the resource\'s, and creates nothing', async () => {
      await expectNothingWritten(async () => {
        const response = await post(patient(), `Observation?${criteria(freshMrn())}`);
        expectOperationOutcome(response, 400);
        expect(issueText(response)).toContain('If-None-Exist names Observation');
      });
    });

    it('takes Type?criteria in a transaction entry\'s ifNoneExist too', async () => {
      const mrn = freshMrn();
      const existing = await createWithMrn(mrn);
      const bundle = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [{ resource: withMrn(mrn), request: { method: 'POST', url: 'Patient', ifNoneExist: `Patient?${criteria(mrn)}` } }],
      };

      const response = await fhirRequest(server.app, 'POST', '/fhir', bundle);
      expect(response.status, response.text).toBe(200);
      expect(response.body.entry[0].response.status).toBe('200 OK');
      expect(response.body.entry[0].response.location).toBe(`${FHIR_BASE}/Patient/${existing}/_history/1`);
      expect(await countWithMrn(mrn)).toBe(1);
    });
  });

  describe('conditional update (PUT [type]?criteria)', () => {
    const put = (query: string, body: unknown) => fhirRequest(server.app, 'PUT', `/fhir/Patient?${query}`, body);

    it('creates the resource under a new id when nothing matches and the body has no id: 201', async () => {
      const mrn = freshMrn();
      const response = await put(criteria(mrn), withMrn(mrn));

      expect(response.status).toBe(201);
      expect(response.body.id).toBeTruthy();
      expect(response.headers.location).toBe(`${FHIR_BASE}/Patient/${response.body.id}/_history/1`);
      expect(await countWithMrn(mrn)).toBe(1);
    });

    it('creates the resource with the body\'s id when nothing matches and the id is free: 201', async () => {
      const mrn = freshMrn();
      const id = `cond-${counter}`;
      const response = await put(criteria(mrn), withMrn(mrn, { id }));

      expect(response.status).toBe(201);
      expect(response.body.id).toBe(id);
      expect((await storedRows(server, 'Patient', id)).current.version_id).toBe(1);
    });

    it('answers 409 and writes nothing when nothing matches but the body\'s id is another existing resource', async () => {
      const other = await createWithMrn(freshMrn(), { gender: 'female' });
      const mrn = freshMrn();

      await expectNothingWritten(async () => {
        expectOperationOutcome(await put(criteria(mrn), withMrn(mrn, { id: other })), 409);
      });
      expect((await storedRows(server, 'Patient', other)).current.content?.gender).toBe('female');
    });

    it('updates the one match: 200 and a new version', async () => {
      const mrn = freshMrn();
      const id = await createWithMrn(mrn);
      const response = await put(criteria(mrn), withMrn(mrn, { gender: 'female' }));

      expect(response.status).toBe(200);
      expect(response.body.id).toBe(id);
      expect(response.body.meta.versionId).toBe('2');
      expect(response.headers.location).toBe(`${FHIR_BASE}/Patient/${id}/_history/2`);
      const stored = await storedRows(server, 'Patient', id);
      expect(stored.history.map((h) => h.method)).toEqual(['POST', 'PUT']);
      expect(stored.current.content?.gender).toBe('female');
      expect(await countWithMrn(mrn)).toBe(1);
    });

    it('updates the one match when the body carries that match\'s id', async () => {
      const mrn = freshMrn();
      const id = await createWithMrn(mrn);
      const response = await put(criteria(mrn), withMrn(mrn, { id, active: true }));
      expect(response.status).toBe(200);
      expect(response.body.active).toBe(true);
    });

    it('answers 400 and writes nothing when the body\'s id is not the one match\'s', async () => {
      const mrn = freshMrn();
      await createWithMrn(mrn);
      await expectNothingWritten(async () => {
        expectOperationOutcome(await put(criteria(mrn), withMrn(mrn, { id: 'some-other-id' })), 400);
      });
    });

    it('answers 412 and writes nothing when several match', async () => {
      const mrn = freshMrn();
      await createWithMrn(mrn);
      await createWithMrn(mrn);
      await expectNothingWritten(async () => {
        expectOperationOutcome(await put(criteria(mrn), withMrn(mrn, { gender: 'other' })), 412);
      });
    });

    it('answers 400 for an invalid resource even when one matches', async () => {
      const mrn = freshMrn();
      await createWithMrn(mrn);
      await expectNothingWritten(async () => {
        expectOperationOutcome(await put(criteria(mrn), withMrn(mrn, { gender: 'robot' })), 400);
      });
    });

    it('answers 400 without criteria', async () => {
      await expectNothingWritten(async () => {
        expectOperationOutcome(await fhirRequest(server.app, 'PUT', '/fhir/Patient', patient()), 400);
      });
    });

    it('answers 400 naming a parameter that Patient does not define, and writes nothing', async () => {
      await expectNothingWritten(async () => {
        const response = await put('birth-day=1974-12-25', patient());
        expectOperationOutcome(response, 400);
        expect(issueText(response)).toMatch(/Unknown search parameter "birth-day"/);
      });
    });
  });

  describe('conditional patch (PATCH [type]?criteria)', () => {
    const patchOp = [{ op: 'replace', path: '/gender', value: 'female' }];
    const patch = (query: string) =>
      fhirRequest(server.app, 'PATCH', `/fhir/Patient?${query}`, patchOp, { 'content-type': 'application/json-patch+json' });

    it('patches the one match: 200 and a new version', async () => {
      const mrn = freshMrn();
      const id = await createWithMrn(mrn);
      const response = await patch(criteria(mrn));

      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ id, gender: 'female', meta: { versionId: '2' } });
      expect((await storedRows(server, 'Patient', id)).history.map((h) => h.method)).toEqual(['POST', 'PATCH']);
    });

    it('answers 404 and writes nothing when nothing matches', async () => {
      await expectNothingWritten(async () => {
        expectOperationOutcome(await patch(criteria(freshMrn())), 404);
      });
    });

    it('answers 412 and writes nothing when several match', async () => {
      const mrn = freshMrn();
      await createWithMrn(mrn);
      await createWithMrn(mrn);
      await expectNothingWritten(async () => {
        expectOperationOutcome(await patch(criteria(mrn)), 412);
      });
    });

    it('answers 400 for criteria on a parameter that Patient does not define', async () => {
      const response = await patch('nickname=peter');
      expectOperationOutcome(response, 400);
      expect(issueText(response)).toContain('"nickname"');
    });
  });

  describe('conditional delete (DELETE [type]?criteria)', () => {
    const del = (query: string) => fhirRequest(server.app, 'DELETE', `/fhir/Patient?${query}`);

    it('deletes the one match', async () => {
      const mrn = freshMrn();
      const id = await createWithMrn(mrn);
      const response = await del(criteria(mrn));

      expect(response.status).toBe(200);
      expect(response.body.resourceType).toBe('OperationOutcome');
      expect(response.headers.etag).toBe('W/"2"');
      const stored = await storedRows(server, 'Patient', id);
      expect(stored.current.deleted).toBe(true);
      expect(stored.history.map((h) => h.method)).toEqual(['POST', 'DELETE']);
      expectOperationOutcome(await fhirRequest(server.app, 'GET', `/fhir/Patient/${id}`), 410);
    });

    it('succeeds and deletes nothing when nothing matches', async () => {
      await expectNothingWritten(async () => {
        const response = await del(criteria(freshMrn()));
        expect(response.status).toBe(200);
        expect(response.body.issue[0].severity).toBe('information');
      });
    });

    it('answers 412 and deletes nothing when several match (we support single deletes only)', async () => {
      const mrn = freshMrn();
      await createWithMrn(mrn);
      await createWithMrn(mrn);
      await expectNothingWritten(async () => {
        expectOperationOutcome(await del(criteria(mrn)), 412);
      });
      expect(await countWithMrn(mrn)).toBe(2);
    });

    it('answers 400 and deletes nothing without criteria', async () => {
      await createWithMrn(freshMrn());
      await expectNothingWritten(async () => {
        expectOperationOutcome(await fhirRequest(server.app, 'DELETE', '/fhir/Patient'), 400);
      });
    });

    it('answers 400 for criteria on a parameter that Patient does not define, rather than deleting what it cannot judge', async () => {
      await expectNothingWritten(async () => {
        const response = await del('sex=male');
        expectOperationOutcome(response, 400);
        expect(issueText(response)).toMatch(/Unknown search parameter "sex"/);
      });
    });
  });
});
