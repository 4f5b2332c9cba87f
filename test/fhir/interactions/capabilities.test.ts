import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FHIR_BASE, fhirRequest, startTestServer, type TestServer } from '../../support/test-server.js';

interface RestResource {
  type: string;
  profile?: string;
  interaction: { code: string }[];
  versioning?: string;
  readHistory?: boolean;
  updateCreate?: boolean;
  conditionalCreate?: boolean;
  conditionalRead?: string;
  conditionalUpdate?: boolean;
  conditionalDelete?: string;
  searchParam?: { name: string; type: string; definition?: string; documentation?: string }[];
  searchInclude?: string[];
  operation?: { name: string; definition: string }[];
}

const INSTANCE_AND_TYPE_INTERACTIONS = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'];

/** capabilities: GET [base]/metadata (http.html#capabilities): a CapabilityStatement of what really works. */
describe('capabilities', () => {
  let server: TestServer;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the statement is read as JSON
  let statement: any;
  let resources: RestResource[];

  beforeAll(async () => {
    server = await startTestServer();
    const response = await fhirRequest(server.app, 'GET', '/fhir/metadata');
    expect(response.status).toBe(200);
    statement = response.body;
    resources = statement.rest[0].resource;
  });

  afterAll(async () => {
    await server.close();
  });

  it('answers 200 with an active CapabilityStatement of kind instance, for FHIR 4.0.1, without authentication', async () => {
    const response = await fhirRequest(server.app, 'GET', '/fhir/metadata');
    expect(response.status).toBe(200);
    expect(String(response.headers['content-type'])).toMatch(/^application\/fhir\+json/);
    expect(statement).toMatchObject({ resourceType: 'CapabilityStatement', status: 'active', kind: 'instance', fhirVersion: '4.0.1' });
    expect(Number.isNaN(Date.parse(statement.date))).toBe(false);
    expect(statement.implementation.url).toBe(FHIR_BASE);
    expect(statement.software.name).toBeTruthy();
  });

  it('names JSON as its only format, and both patch formats', () => {
    expect(statement.format).toEqual(expect.arrayContaining(['application/fhir+json', 'json']));
    expect(statement.format.some((f: string) => f.includes('xml'))).toBe(false);
    expect(statement.patchFormat).toEqual(expect.arrayContaining(['application/json-patch+json', 'application/fhir+json']));
  });

  it('is one REST server', () => {
    expect(statement.rest).toHaveLength(1);
    expect(statement.rest[0].mode).toBe('server');
  });

  it('lists all 146 R4 resource types, once each, in order', () => {
    const types = resources.map((r) => r.type);
    expect(types).toHaveLength(146);
    expect(new Set(types).size).toBe(146);
    expect(types).toEqual([...types].sort());
    expect(types).toEqual(expect.arrayContaining(['Patient', 'Observation', 'Encounter', 'Organization', 'Bundle', 'Parameters', 'Binary', 'VerificationResult']));
    for (const abstract of ['Resource', 'DomainResource']) expect(types).not.toContain(abstract);
  });

  it('gives every type the instance and type interactions, versioned updates, history and the base profile', () => {
    for (const resource of resources) {
      expect(resource.interaction.map((i) => i.code).sort(), resource.type).toEqual([...INSTANCE_AND_TYPE_INTERACTIONS].sort());
      expect(resource.profile).toBe(`http://hl7.org/fhir/StructureDefinition/${resource.type}`);
      expect(resource.versioning).toBe('versioned-update');
      expect(resource.readHistory).toBe(true);
      expect(resource.updateCreate).toBe(true);
    }
  });

  it('states the conditional interactions as they are served: create, read, update, single delete', () => {
    for (const resource of resources) {
      expect(resource).toMatchObject({
        conditionalCreate: true,
        conditionalRead: 'full-support',
        conditionalUpdate: true,
        conditionalDelete: 'single',
      });
    }
  });

  it('lists every R4 search parameter of each type, with the modifiers that work, and nothing it does not serve', () => {
    const byType = new Map(resources.map((r) => [r.type, r]));
    const params = (type: string) => byType.get(type)?.searchParam ?? [];
    const names = (type: string) => params(type).map((p) => p.name);
    expect(names('Patient')).toEqual(
      expect.arrayContaining(['_id', '_lastUpdated', '_tag', '_profile', '_text', 'name', 'family', 'birthdate', 'identifier', 'general-practitioner']),
    );
    expect(names('Binary')).toEqual(expect.arrayContaining(['_id', '_lastUpdated']));
    expect(names('Binary')).not.toContain('_text'); // Binary is not a DomainResource: no narrative
    expect(names('Location')).not.toContain('near'); // `near` is not served
    const name = params('Patient').find((p) => p.name === 'name');
    expect(name).toMatchObject({ type: 'string', definition: 'http://hl7.org/fhir/SearchParameter/Patient-name' });
    expect(name?.documentation).toContain('Modifiers: :exact, :contains, :missing.');
    const gp = params('Patient').find((p) => p.name === 'general-practitioner');
    expect(gp?.documentation).toContain('Can be chained.');
    expect(byType.get('Observation')?.searchInclude).toContain('Observation:patient');
    for (const resource of resources) expect(names(resource.type)).toContain('_id');
  });

  it('names the type and instance operations with their canonical definitions', () => {
    const patient = resources.find((r) => r.type === 'Patient') as RestResource;
    expect(patient.operation).toEqual(
      expect.arrayContaining([
        { name: 'validate', definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate' },
        { name: 'meta', definition: 'http://hl7.org/fhir/OperationDefinition/Resource-meta' },
        { name: 'meta-add', definition: 'http://hl7.org/fhir/OperationDefinition/Resource-meta-add' },
        { name: 'meta-delete', definition: 'http://hl7.org/fhir/OperationDefinition/Resource-meta-delete' },
      ]),
    );
    expect(new Set(patient.operation?.map((o) => o.name)).size).toBe(patient.operation?.length);
  });

  it('names the system interactions and operations', () => {
    expect(statement.rest[0].interaction.map((i: { code: string }) => i.code).sort()).toEqual(
      ['batch', 'history-system', 'search-system', 'transaction'].sort(),
    );
    expect(statement.rest[0].operation).toContainEqual({ name: 'meta', definition: 'http://hl7.org/fhir/OperationDefinition/Resource-meta' });
  });

  it('names only operations that answer at that level', async () => {
    for (const { name } of statement.rest[0].operation) {
      const response = await fhirRequest(server.app, 'POST', `/fhir/$${name}`, { resourceType: 'Parameters' });
      expect(response.status, `$${name}`).not.toBe(404);
    }
  });

  it('declares SMART on FHIR security with the oauth-uris extension (SMART App Launch conformance)', () => {
    const security = statement.rest[0].security;
    expect(security.service[0].coding[0]).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' });
    const uris = security.extension.find((e: { url: string }) => e.url === 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris');
    const byName = Object.fromEntries(uris.extension.map((e: { url: string; valueUri: string }) => [e.url, e.valueUri]));
    expect(byName).toMatchObject({ authorize: 'http://fhir.test/oauth/authorize', token: 'http://fhir.test/oauth/token' });
  });

  it('is itself a valid resource', async () => {
    const response = await fhirRequest(server.app, 'POST', '/fhir/CapabilityStatement/$validate', statement);
    expect(response.status).toBe(200);
    const errors = response.body.issue.filter((i: { severity: string }) => i.severity === 'error' || i.severity === 'fatal');
    expect(errors.map((e: { expression?: string[]; diagnostics?: string }) => [e.expression?.[0], e.diagnostics])).toEqual([]);
  });

  it('answers HEAD and _format=json too', async () => {
    expect((await fhirRequest(server.app, 'HEAD', '/fhir/metadata')).status).toBe(200);
    const json = await fhirRequest(server.app, 'GET', '/fhir/metadata?_format=json');
    expect(json.status).toBe(200);
    expect(json.body.resourceType).toBe('CapabilityStatement');
  });
  describe('modes (http.html#capabilities)', () => {
    it('mode=terminology is a TerminologyCapabilities: the R4 code systems and stored ones, and how $expand pages', async () => {
      const created = await fhirRequest(server.app, 'POST', '/fhir/CodeSystem', {
        resourceType: 'CodeSystem',
        url: 'http://example.org/fhir/CodeSystem/colours',
        status: 'active',
        content: 'complete',
        concept: [{ code: 'red' }],
      });
      expect(created.status).toBe(201);
      const response = await fhirRequest(server.app, 'GET', '/fhir/metadata?mode=terminology', undefined, { authorization: '' });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ resourceType: 'TerminologyCapabilities', status: 'active', kind: 'instance', expansion: { paging: true } });
      const uris = response.body.codeSystem.map((c: { uri: string }) => c.uri);
      expect(uris).toEqual(expect.arrayContaining(['http://hl7.org/fhir/administrative-gender', 'http://example.org/fhir/CodeSystem/colours']));
    });

    it('mode=full and mode=normative are the CapabilityStatement; another mode is 400', async () => {
      for (const mode of ['full', 'normative']) {
        expect((await fhirRequest(server.app, 'GET', `/fhir/metadata?mode=${mode}`)).body.resourceType).toBe('CapabilityStatement');
      }
      const bad = await fhirRequest(server.app, 'GET', '/fhir/metadata?mode=everything');
      expect(bad.status).toBe(400);
      expect(bad.body.resourceType).toBe('OperationOutcome');
    });
  });
});
