import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, startTestServer, type FhirTestResponse, type TestServer } from '../../support/test-server.js';
import { expectOperationOutcome } from './support.js';

const GENDER_VS = 'http://hl7.org/fhir/ValueSet/administrative-gender';
const GENDER_CS = 'http://hl7.org/fhir/administrative-gender';
const CLINIC_CS = 'http://clinic.example/CodeSystem/visit-reason';
const CLINIC_VS = 'http://clinic.example/ValueSet/visit-reason';

/** The named outputs of a Parameters answer. */
function outputs(response: FhirTestResponse): Record<string, unknown> {
  expect(response.status, response.text).toBe(200);
  expect(response.body.resourceType).toBe('Parameters');
  return Object.fromEntries(response.body.parameter.map((p: Record<string, unknown>) => [p.name, Object.entries(p).find(([key]) => key.startsWith('value'))?.[1] ?? p.part]));
}

/** ValueSet/$expand, ValueSet/$validate-code and CodeSystem/$lookup on terminology held here or in the R4 definitions. */
describe('terminology operations', () => {
  let server: TestServer;
  let clinicValueSetId: string;
  const get = (url: string) => fhirRequest(server.app, 'GET', url);

  beforeAll(async () => {
    server = await startTestServer();
    const codeSystem = await fhirRequest(server.app, 'POST', '/fhir/CodeSystem', {
      resourceType: 'CodeSystem',
      url: CLINIC_CS,
      name: 'VisitReason',
      status: 'active',
      content: 'complete',
      concept: [
        { code: 'checkup', display: 'Routine check-up', designation: [{ language: 'de', value: 'Vorsorge' }] },
        { code: 'flu', display: 'Flu symptoms' },
        { code: 'injury', display: 'Injury', concept: [{ code: 'fracture', display: 'Fracture' }] },
      ],
    });
    expect(codeSystem.status).toBe(201);
    const valueSet = await fhirRequest(server.app, 'POST', '/fhir/ValueSet', {
      resourceType: 'ValueSet',
      url: CLINIC_VS,
      name: 'VisitReasons',
      status: 'active',
      compose: { include: [{ system: CLINIC_CS }], exclude: [{ system: CLINIC_CS, concept: [{ code: 'flu' }] }] },
    });
    expect(valueSet.status).toBe(201);
    clinicValueSetId = valueSet.body.id;
  });

  afterAll(async () => {
    await server.close();
  });

  describe('$expand', () => {
    it('expands a value set of the R4 definitions, with displays', async () => {
      const response = await get(`/fhir/ValueSet/$expand?url=${GENDER_VS}`);

      expect(response.status, response.text).toBe(200);
      expect(response.body).toMatchObject({ resourceType: 'ValueSet', url: GENDER_VS, expansion: { total: 4, offset: 0 } });
      expect(response.body.expansion.contains).toEqual([
        { system: GENDER_CS, code: 'male', display: 'Male' },
        { system: GENDER_CS, code: 'female', display: 'Female' },
        { system: GENDER_CS, code: 'other', display: 'Other' },
        { system: GENDER_CS, code: 'unknown', display: 'Unknown' },
      ]);
    });

    it('expands a stored value set over a stored code system, nested concepts included and excludes left out, by url or by id', async () => {
      const byUrl = await get(`/fhir/ValueSet/$expand?url=${CLINIC_VS}`);
      const byId = await get(`/fhir/ValueSet/${clinicValueSetId}/$expand`);

      for (const response of [byUrl, byId]) {
        expect(response.status, response.text).toBe(200);
        expect(response.body.expansion.contains.map((c: { code: string }) => c.code)).toEqual(['checkup', 'injury', 'fracture']);
      }
    });

    it('filters on the code or display in any case, and pages with offset and count', async () => {
      const filtered = await get(`/fhir/ValueSet/$expand?url=${GENDER_VS}&filter=MALE`);
      expect(filtered.body.expansion.contains.map((c: { code: string }) => c.code)).toEqual(['male', 'female']);

      const page = await get(`/fhir/ValueSet/$expand?url=${GENDER_VS}&offset=1&count=2`);
      expect(page.body.expansion).toMatchObject({ total: 4, offset: 1 });
      expect(page.body.expansion.contains.map((c: { code: string }) => c.code)).toEqual(['female', 'other']);
    });

    it('is 404 for a value set it does not hold, 422 for one it cannot expand, 400 for a bad count or no value set', async () => {
      expectOperationOutcome(await get('/fhir/ValueSet/$expand?url=http://nowhere.example/vs'), 404);
      // Defined by filters over LOINC, which the server does not hold.
      expectOperationOutcome(await get('/fhir/ValueSet/$expand?url=http://hl7.org/fhir/ValueSet/observation-codes'), 422);
      expectOperationOutcome(await get(`/fhir/ValueSet/$expand?url=${GENDER_VS}&count=-1`), 400);
      expectOperationOutcome(await get('/fhir/ValueSet/$expand'), 400);
    });
  });

  describe('$validate-code', () => {
    it('says whether a code is in the value set, with its display or why not', async () => {
      expect(outputs(await get(`/fhir/ValueSet/$validate-code?url=${GENDER_VS}&system=${GENDER_CS}&code=female`))).toEqual({ result: true, display: 'Female' });
      expect(outputs(await get(`/fhir/ValueSet/$validate-code?url=${CLINIC_VS}&code=flu`))).toMatchObject({ result: false, message: expect.stringContaining('not in ValueSet') });
      expect(outputs(await get(`/fhir/ValueSet/$validate-code?url=${GENDER_VS}&code=male&display=Man`))).toMatchObject({ result: false, message: expect.stringContaining('"Male"') });
    });

    it('takes a coding in a POSTed Parameters resource, and works on a stored value set by id', async () => {
      const response = await fhirRequest(server.app, 'POST', `/fhir/ValueSet/${clinicValueSetId}/$validate-code`, {
        resourceType: 'Parameters',
        parameter: [{ name: 'coding', valueCoding: { system: CLINIC_CS, code: 'fracture' } }],
      });
      expect(outputs(response)).toEqual({ result: true, display: 'Fracture' });
    });

    it('is 400 without a code', async () => {
      expectOperationOutcome(await get(`/fhir/ValueSet/$validate-code?url=${GENDER_VS}`), 400);
    });
  });

  describe('$lookup', () => {
    it("answers a code's display and designations, in a stored or a definitions code system", async () => {
      expect(outputs(await get(`/fhir/CodeSystem/$lookup?system=${GENDER_CS}&code=other`))).toMatchObject({ name: 'AdministrativeGender', display: 'Other' });
      expect(outputs(await get(`/fhir/CodeSystem/$lookup?system=${CLINIC_CS}&code=checkup`))).toEqual({
        name: 'VisitReason',
        display: 'Routine check-up',
        designation: [
          { name: 'language', valueCode: 'de' },
          { name: 'value', valueString: 'Vorsorge' },
        ],
      });
    });

    it('is 404 for an unknown code or code system, 400 without a system', async () => {
      expectOperationOutcome(await get(`/fhir/CodeSystem/$lookup?system=${CLINIC_CS}&code=nope`), 404);
      expectOperationOutcome(await get('/fhir/CodeSystem/$lookup?system=http://nowhere.example/cs&code=x'), 404);
      expectOperationOutcome(await get('/fhir/CodeSystem/$lookup?code=male'), 400);
    });
  });
});
