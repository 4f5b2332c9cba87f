import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, startTestServer, type TestServer } from '../support/test-server.js';

const EYE_COLOUR = 'http://example.org/fhir/StructureDefinition/eye-colour';

const eyeColourParameter = {
  resourceType: 'SearchParameter',
  url: 'http://example.org/fhir/SearchParameter/patient-eye-colour',
  name: 'EyeColour',
  status: 'active',
  description: 'The colour of the eyes',
  code: 'eye-colour',
  base: ['Patient'],
  type: 'token',
  expression: `Patient.extension.where(url = '${EYE_COLOUR}').value.as(code)`,
};

const patientWithEyes = (colour: string, family: string) => ({
  resourceType: 'Patient',
  name: [{ family }],
  extension: [{ url: EYE_COLOUR, valueCode: colour }],
});

describe('custom SearchParameters and $reindex', () => {
  let server: TestServer;
  const ids: Record<string, string> = {};
  const create = async (label: string, body: unknown) => {
    const response = await fhirRequest(server.app, 'POST', '/fhir/Patient', body);
    expect(response.status).toBe(201);
    ids[label] = response.body.id;
  };
  const matches = async (url: string): Promise<string[]> => {
    const response = await fhirRequest(server.app, 'GET', url, undefined, { prefer: 'handling=strict' });
    expect(response.status, response.text).toBe(200);
    return (response.body.entry ?? []).filter((e: { search: { mode: string } }) => e.search.mode === 'match').map((e: { resource: { id: string } }) => e.resource.id).sort();
  };
  const labelled = (...labels: string[]) => labels.map((l) => ids[l]).sort();

  beforeAll(async () => {
    server = await startTestServer({ REINDEX_INLINE_LIMIT: '3' });
    await create('blueBefore', patientWithEyes('blue', 'Before'));
    await create('brownBefore', patientWithEyes('brown', 'Before'));
  });
  afterAll(async () => server?.close());

  it('refuses a SearchParameter whose expression is not FHIRPath, pointing at it, and stores nothing', async () => {
    const response = await fhirRequest(server.app, 'POST', '/fhir/SearchParameter', { ...eyeColourParameter, expression: 'Patient.extension.where(' });
    expect(response.status).toBe(400);
    expect(response.body.issue[0].expression).toEqual(['SearchParameter.expression']);
    const { rows } = await server.db.query(`SELECT count(*)::int AS n FROM resource WHERE resource_type = 'SearchParameter'`);
    expect(rows[0].n).toBe(0);
  });

  it('is an unknown parameter until the SearchParameter is created', async () => {
    const response = await fhirRequest(server.app, 'GET', '/fhir/Patient?eye-colour=blue', undefined, { prefer: 'handling=strict' });
    expect(response.status).toBe(400);
  });

  it('applies to writes from the moment it is created, but not to what was stored before', async () => {
    expect((await fhirRequest(server.app, 'POST', '/fhir/SearchParameter', eyeColourParameter)).status).toBe(201);
    await create('blueAfter', patientWithEyes('blue', 'After'));
    expect(await matches('/fhir/Patient?eye-colour=blue')).toEqual(labelled('blueAfter'));
  });

  it('is listed in the CapabilityStatement for its type', async () => {
    const statement = (await fhirRequest(server.app, 'GET', '/fhir/metadata')).body;
    const patient = statement.rest[0].resource.find((r: { type: string }) => r.type === 'Patient');
    expect(patient.searchParam.map((p: { name: string }) => p.name)).toContain('eye-colour');
  });

  it('indexes what was stored before with instance-level $reindex, within the request', async () => {
    const response = await fhirRequest(server.app, 'POST', `/fhir/Patient/${ids.blueBefore}/$reindex`);
    expect(response.status).toBe(200);
    expect(response.body.parameter).toEqual(
      expect.arrayContaining([{ name: 'status', valueCode: 'completed' }, { name: 'processed', valueInteger: 1 }]),
    );
    expect(await matches('/fhir/Patient?eye-colour=blue')).toEqual(labelled('blueBefore', 'blueAfter'));
  });

  it('reindexes a large set in the background: 202 with Content-Location, progress until it completes', async () => {
    await create('brownAfter', patientWithEyes('brown', 'After'));
    const started = await fhirRequest(server.app, 'POST', '/fhir/Patient/$reindex');
    expect(started.status).toBe(202);
    const location = String(started.headers['content-location']);
    expect(location).toMatch(/\/fhir\/\$reindex\?job=[0-9a-f-]{36}$/);
    expect(started.body.parameter).toEqual(expect.arrayContaining([{ name: 'total', valueInteger: 4 }]));

    let status = await fhirRequest(server.app, 'GET', location.replace('http://fhir.test', ''));
    for (let i = 0; i < 50 && status.status === 202; i++) {
      expect(status.headers['x-progress']).toMatch(/^\d+ of 4 resources$/);
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = await fhirRequest(server.app, 'GET', location.replace('http://fhir.test', ''));
    }
    expect(status.status).toBe(200);
    expect(status.body.parameter).toEqual(
      expect.arrayContaining([{ name: 'status', valueCode: 'completed' }, { name: 'processed', valueInteger: 4 }]),
    );
    expect(await matches('/fhir/Patient?eye-colour=brown')).toEqual(labelled('brownBefore', 'brownAfter'));
  });

  it('answers 404 for the progress of a job that does not exist', async () => {
    const response = await fhirRequest(server.app, 'GET', '/fhir/$reindex?job=6f1c7c52-4b55-4d2e-9d0e-2d6f0f4f0a11');
    expect(response.status).toBe(404);
    expect(response.body.resourceType).toBe('OperationOutcome');
  });

  it('stops applying once the SearchParameter is deleted', async () => {
    const found = await fhirRequest(server.app, 'GET', `/fhir/SearchParameter?url=${eyeColourParameter.url}`);
    const id = found.body.entry[0].resource.id;
    expect((await fhirRequest(server.app, 'DELETE', `/fhir/SearchParameter/${id}`)).status).toBe(200);
    const response = await fhirRequest(server.app, 'GET', '/fhir/Patient?eye-colour=blue', undefined, { prefer: 'handling=strict' });
    expect(response.status).toBe(400);
  });

  it('serves the OperationDefinition of $reindex that the CapabilityStatement names', async () => {
    const statement = (await fhirRequest(server.app, 'GET', '/fhir/metadata')).body;
    const reindex = statement.rest[0].operation.find((op: { name: string }) => op.name === 'reindex');
    expect(reindex.definition).toBe('http://fhir.test/fhir/OperationDefinition/reindex');
    const definition = await fhirRequest(server.app, 'GET', '/fhir/OperationDefinition/reindex');
    expect(definition.status).toBe(200);
    expect(definition.body).toMatchObject({ url: reindex.definition, code: 'reindex', system: true, type: true, instance: true });
  });
});
