import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FHIR_BASE, fhirRequest, startTestServer, type TestServer } from '../../support/test-server.js';
import { expectOperationOutcome, issueExpressions, issueText, patient, rowCounts, storedRows } from './support.js';

const JSON_PATCH = { 'content-type': 'application/json-patch+json' };

/** A FHIRPath Patch (fhirpatch.html) with one `replace` of a string element. */
function fhirPathReplace(path: string, valueString: string) {
  return {
    resourceType: 'Parameters',
    parameter: [
      {
        name: 'operation',
        part: [
          { name: 'type', valueCode: 'replace' },
          { name: 'path', valueString: path },
          { name: 'value', valueString },
        ],
      },
    ],
  };
}

/** patch: PATCH [type]/[id] (http.html#patch) with JSON Patch or FHIRPath Patch. */
describe('patch', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server.close();
  });

  const patch = (id: string, body: unknown, headers: Record<string, string> = {}) =>
    fhirRequest(server.app, 'PATCH', `/fhir/Patient/${id}`, body, headers);

  async function createPatient(): Promise<string> {
    const created = await fhirRequest(server.app, 'POST', '/fhir/Patient', patient());
    expect(created.status).toBe(201);
    return created.body.id;
  }

  async function expectNothingWritten(action: () => Promise<void>) {
    const before = await rowCounts(server);
    await action();
    expect(await rowCounts(server)).toEqual(before);
  }

  describe('JSON Patch (application/json-patch+json)', () => {
    it('applies the operations, bumps the version and answers 200 with the patched resource', async () => {
      const id = await createPatient();
      const response = await patch(
        id,
        [
          { op: 'replace', path: '/gender', value: 'female' },
          { op: 'add', path: '/active', value: true },
          { op: 'remove', path: '/birthDate' },
        ],
        JSON_PATCH,
      );

      expect(response.status, response.text).toBe(200);
      expect(response.body).toMatchObject({ id, gender: 'female', active: true, meta: { versionId: '2' } });
      expect(response.body.birthDate).toBeUndefined();
      expect(response.headers.etag).toBe('W/"2"');
      expect(response.headers.location).toBe(`${FHIR_BASE}/Patient/${id}/_history/2`);

      const stored = await storedRows(server, 'Patient', id);
      expect(stored.current.version_id).toBe(2);
      expect(stored.current.content).toMatchObject({ gender: 'female', active: true });
      expect(stored.history.map((h) => [h.version_id, h.method])).toEqual([
        [1, 'POST'],
        [2, 'PATCH'],
      ]);
    });

    it('answers 422 when a test operation fails, and writes nothing', async () => {
      const id = await createPatient();
      await expectNothingWritten(async () => {
        const response = await patch(
          id,
          [
            { op: 'test', path: '/gender', value: 'female' },
            { op: 'replace', path: '/gender', value: 'other' },
          ],
          JSON_PATCH,
        );
        expectOperationOutcome(response, 422);
      });
    });

    it('applies the patch when its test operation holds', async () => {
      const id = await createPatient();
      const response = await patch(
        id,
        [
          { op: 'test', path: '/gender', value: 'male' },
          { op: 'replace', path: '/gender', value: 'other' },
        ],
        JSON_PATCH,
      );
      expect(response.status).toBe(200);
      expect(response.body.gender).toBe('other');
    });

    it('answers 400 when the result is not a valid resource, pointing at the element, and writes nothing', async () => {
      const id = await createPatient();
      await expectNothingWritten(async () => {
        const response = await patch(id, [{ op: 'replace', path: '/gender', value: 'robot' }], JSON_PATCH);
        expectOperationOutcome(response, 400);
        expect(issueExpressions(response)).toContain('Patient.gender');
      });
      expect((await fhirRequest(server.app, 'GET', `/fhir/Patient/${id}`)).body.gender).toBe('male');
    });

    it('answers 400 for a patch document that is not a list of operations', async () => {
      const id = await createPatient();
      await expectNothingWritten(async () => {
        expectOperationOutcome(await patch(id, { op: 'replace', path: '/gender', value: 'female' }, JSON_PATCH), 400);
      });
    });

    it('answers 400 for an operation on a path that does not exist', async () => {
      const id = await createPatient();
      await expectNothingWritten(async () => {
        expectOperationOutcome(await patch(id, [{ op: 'replace', path: '/deceasedBoolean', value: true }], JSON_PATCH), 400);
      });
    });

    it('answers 400 for a patch that changes the id', async () => {
      const id = await createPatient();
      await expectNothingWritten(async () => {
        expectOperationOutcome(await patch(id, [{ op: 'replace', path: '/id', value: 'other-id' }], JSON_PATCH), 400);
      });
    });
  });

  describe('FHIRPath Patch (a Parameters resource)', () => {
    it('applies the operations, bumps the version and answers 200 with the patched resource', async () => {
      const id = await createPatient();
      const response = await patch(id, fhirPathReplace('Patient.birthDate', '1980-01-01'));

      expect(response.status, response.text).toBe(200);
      expect(response.body.birthDate).toBe('1980-01-01');
      expect(response.body.meta.versionId).toBe('2');
      expect(response.headers.etag).toBe('W/"2"');
      const stored = await storedRows(server, 'Patient', id);
      expect(stored.current.content?.birthDate).toBe('1980-01-01');
      expect(stored.history.map((h) => h.method)).toEqual(['POST', 'PATCH']);
    });

    it('adds an element with an add operation', async () => {
      const id = await createPatient();
      const response = await patch(id, {
        resourceType: 'Parameters',
        parameter: [
          {
            name: 'operation',
            part: [
              { name: 'type', valueCode: 'add' },
              { name: 'path', valueString: 'Patient' },
              { name: 'name', valueString: 'active' },
              { name: 'value', valueBoolean: false },
            ],
          },
        ],
      });
      expect(response.status, response.text).toBe(200);
      expect(response.body.active).toBe(false);
    });

    it('answers 400 when the result is not a valid resource, and writes nothing', async () => {
      const id = await createPatient();
      await expectNothingWritten(async () => {
        const response = await patch(id, fhirPathReplace('Patient.birthDate', 'not-a-date'));
        expectOperationOutcome(response, 400);
        expect(issueExpressions(response)).toContain('Patient.birthDate');
      });
    });

    it('answers 400 for an operation of an unknown type', async () => {
      const id = await createPatient();
      await expectNothingWritten(async () => {
        const response = await patch(id, {
          resourceType: 'Parameters',
          parameter: [{ name: 'operation', part: [{ name: 'type', valueCode: 'transmogrify' }, { name: 'path', valueString: 'Patient' }] }],
        });
        expectOperationOutcome(response, 400);
      });
    });
  });

  describe('preconditions', () => {
    it('answers 404 for a resource that does not exist, and creates nothing', async () => {
      await expectNothingWritten(async () => {
        expectOperationOutcome(await patch('no-such-patient', [{ op: 'add', path: '/active', value: true }], JSON_PATCH), 404);
      });
    });

    it('answers 410 for a deleted resource', async () => {
      const id = await createPatient();
      await fhirRequest(server.app, 'DELETE', `/fhir/Patient/${id}`);
      await expectNothingWritten(async () => {
        expectOperationOutcome(await patch(id, [{ op: 'add', path: '/active', value: true }], JSON_PATCH), 410);
      });
    });

    it('applies the patch when If-Match names the current version', async () => {
      const id = await createPatient();
      const response = await patch(id, [{ op: 'add', path: '/active', value: true }], { ...JSON_PATCH, 'if-match': 'W/"1"' });
      expect(response.status).toBe(200);
      expect(response.body.meta.versionId).toBe('2');
    });

    it('applies concurrent patches one after another, each to the version the one before wrote', async () => {
      const created = await fhirRequest(server.app, 'POST', '/fhir/Patient', patient({ identifier: [{ system: 'urn:test', value: 'first' }] }));
      const values = Array.from({ length: 10 }, (_, n) => `added-${n}`);
      const responses = await Promise.all(values.map((value) => patch(created.body.id, [{ op: 'add', path: '/identifier/-', value: { system: 'urn:test', value } }], JSON_PATCH)));

      expect(responses.map((response) => response.status)).toEqual(values.map(() => 200));
      const stored = await storedRows(server, 'Patient', created.body.id);
      expect(stored.current.version_id).toBe(11);
      const identifiers = stored.current.content?.identifier as { value: string }[];
      expect(identifiers.map((identifier) => identifier.value).sort()).toEqual(['first', ...values].sort());
      expect(stored.history.map((version) => version.version_id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    });

    it('answers 412 when If-Match names another version, and writes nothing', async () => {
      const id = await createPatient();
      await patch(id, [{ op: 'add', path: '/active', value: true }], JSON_PATCH);
      await expectNothingWritten(async () => {
        const response = await patch(id, [{ op: 'replace', path: '/active', value: false }], { ...JSON_PATCH, 'if-match': 'W/"1"' });
        expectOperationOutcome(response, 412);
      });
    });

    it('answers 415 for a body of another content type', async () => {
      const id = await createPatient();
      await expectNothingWritten(async () => {
        expectOperationOutcome(await patch(id, 'gender=female', { 'content-type': 'text/plain' }), 415);
      });
    });

    it('answers 415 for a FHIR resource that is not a Parameters patch, saying what PATCH takes and what it got', async () => {
      const id = await createPatient();
      await expectNothingWritten(async () => {
        const response = await patch(id, patient({ id, gender: 'female' }));
        expectOperationOutcome(response, 415);
        expect(issueText(response)).toContain('PATCH takes application/json-patch+json, or a FHIRPath Patch Parameters resource');
        expect(issueText(response)).toContain('this body is a Patient');
      });
    });

    it('answers 415 naming a form body', async () => {
      const id = await createPatient();
      await expectNothingWritten(async () => {
        const response = await patch(id, 'gender=female', { 'content-type': 'application/x-www-form-urlencoded' });
        expectOperationOutcome(response, 415);
        expect(issueText(response)).toContain('this body is application/x-www-form-urlencoded');
      });
    });

    it('answers 400 for a PATCH without a body', async () => {
      const id = await createPatient();
      await expectNothingWritten(async () => {
        const response = await fhirRequest(server.app, 'PATCH', `/fhir/Patient/${id}`);
        expectOperationOutcome(response, 400);
        expect(issueText(response)).toContain('the request has no body');
      });
    });

    it('answers 400 for an invalid id', async () => {
      expectOperationOutcome(await patch('bad_id', [{ op: 'add', path: '/active', value: true }], JSON_PATCH), 400);
    });
  });
});
