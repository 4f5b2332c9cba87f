import { afterAll, beforeAll, describe, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { createAll, expectMatches, expectSearchError, q, type Fixture, type Ids } from './values-support.js';

/**
 * uri parameters (https://hl7.org/fhir/R4/search.html#uri): "by default, matches are precise (e.g.
 * case, accent, and escape) sensitive, and the entire URI must match"; `:below` - the search term
 * left-matches the value; `:above` - the value left-matches the search term; `:missing`. For the
 * canonical URLs of conformance resources, a `|[version]` part of the search value is a search on the version.
 */

let server: TestServer;

const valueSet = (url?: string, version?: string): Fixture => ({
  resourceType: 'ValueSet',
  status: 'active',
  ...(url ? { url } : {}),
  ...(version ? { version } : {}),
});

let valueSets: Ids;
let codeSystems: Ids;
let profiles: Ids;

beforeAll(async () => {
  server = await startTestServer();
  valueSets = await createAll(server, {
    vs123: valueSet('http://acme.org/fhir/ValueSet/123', '2.0'),
    vs123v1: valueSet('http://acme.org/fhir/ValueSet/123', '1.0'),
    vs1234: valueSet('http://acme.org/fhir/ValueSet/1234'),
    vsLowerCase: valueSet('http://acme.org/fhir/valueset/123'),
    vsFhir: valueSet('http://acme.org/fhir'),
    vsHost: valueSet('http://acme.org'),
    vsFhirx: valueSet('http://acme.org/fhirx/ValueSet/1'),
    vsOtherHost: valueSet('http://other.org/fhir/ValueSet/123'),
    vsOid: valueSet('urn:oid:1.2.3.4.5'),
    vsNoUrl: valueSet(),
  });
  codeSystems = await createAll(server, {
    colors: { resourceType: 'CodeSystem', status: 'active', content: 'not-present', url: 'http://acme.org/fhir/CodeSystem/colors' },
    shapes: { resourceType: 'CodeSystem', status: 'active', content: 'not-present', url: 'http://acme.org/fhir/CodeSystem/shapes' },
    elsewhere: { resourceType: 'CodeSystem', status: 'active', content: 'not-present', url: 'http://other.org/CodeSystem/colors' },
  });
  const profile = (url: string, name: string): Fixture => ({
    resourceType: 'StructureDefinition',
    url,
    name,
    status: 'draft',
    kind: 'resource',
    abstract: false,
    type: 'Patient',
    baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Patient',
    derivation: 'constraint',
    differential: { element: [{ id: 'Patient', path: 'Patient' }] },
  });
  profiles = await createAll(server, {
    vip: profile('http://acme.org/fhir/StructureDefinition/vip-patient', 'VipPatient'),
    vipPlus: profile('http://acme.org/fhir/StructureDefinition/vip-patient-plus', 'VipPatientPlus'),
  });
});

afterAll(async () => {
  await server?.close();
});

const expectValueSets = (query: string, expected: string[]) => expectMatches(server, `/fhir/ValueSet?${query}`, 'ValueSet', valueSets, expected);

describe('uri: exact', () => {
  it('the entire URI must match: not a prefix, not a longer URI', async () => {
    await expectValueSets(`url=${q('http://acme.org/fhir/ValueSet/123')}`, ['vs123', 'vs123v1']);
    await expectValueSets(`url=${q('http://acme.org/fhir/ValueSet/12')}`, []);
    await expectValueSets(`url=${q('http://acme.org/fhir/ValueSet/1234')}`, ['vs1234']);
    await expectValueSets(`url=${q('http://acme.org/fhir/ValueSet')}`, []);
  });

  it('matching is case sensitive', async () => {
    await expectValueSets(`url=${q('http://acme.org/fhir/valueset/123')}`, ['vsLowerCase']);
    await expectValueSets(`url=${q('HTTP://ACME.ORG/fhir/ValueSet/123')}`, []);
  });

  it('a URN such as an OID', async () => {
    await expectValueSets('url=urn:oid:1.2.3.4.5', ['vsOid']);
    await expectValueSets('url=urn:oid:1.2.3.4', []);
  });

  it('a |version part searches the business version of a canonical resource', async () => {
    await expectValueSets(`url=${q('http://acme.org/fhir/ValueSet/123|1.0')}`, ['vs123v1']);
    await expectValueSets(`url=${q('http://acme.org/fhir/ValueSet/123|2.0')}`, ['vs123']);
    await expectValueSets(`url=${q('http://acme.org/fhir/ValueSet/123|3.0')}`, []);
  });

  it('values are ORed', async () => {
    await expectValueSets(`url=${q('http://acme.org/fhir/ValueSet/1234')},urn:oid:1.2.3.4.5`, ['vs1234', 'vsOid']);
  });
});

describe('uri: :below and :above', () => {
  it(':below: "any value sets that have a URL that starts with http://acme.org/fhir/"', async () => {
    await expectValueSets(`url:below=${q('http://acme.org/fhir/')}`, ['vs123', 'vs123v1', 'vs1234', 'vsLowerCase']);
    await expectValueSets(`url:below=${q('http://acme.org/fhir/ValueSet/')}`, ['vs123', 'vs123v1', 'vs1234']);
    await expectValueSets(`url:below=${q('http://acme.org/')}`, ['vs123', 'vs123v1', 'vs1234', 'vsLowerCase', 'vsFhir', 'vsFhirx']);
    await expectValueSets(`url:below=${q('http://nowhere.org/')}`, []);
  });

  it(':above: the URIs the searched one is below, itself included', async () => {
    await expectValueSets(`url:above=${q('http://acme.org/fhir/ValueSet/123/_history/5')}`, ['vs123', 'vs123v1', 'vsFhir', 'vsHost']);
    await expectValueSets(`url:above=${q('http://acme.org/fhir/ValueSet/123')}`, ['vs123', 'vs123v1', 'vsFhir', 'vsHost']);
    await expectValueSets(`url:above=${q('http://other.org/fhir/ValueSet/123')}`, ['vsOtherHost']);
  });

  it(':missing', async () => {
    await expectValueSets('url:missing=true', ['vsNoUrl']);
    await expectValueSets('url:missing=false', Object.keys(valueSets).filter((label) => label !== 'vsNoUrl'));
  });

  it('other modifiers are refused', async () => {
    await expectSearchError(server, `/fhir/ValueSet?url:contains=acme`, 'contains');
    await expectSearchError(server, `/fhir/ValueSet?url:exact=${q('http://acme.org/fhir')}`, 'exact');
  });
});

describe('uri on other canonical resources', () => {
  it('CodeSystem?url', async () => {
    const expectCodeSystems = (query: string, expected: string[]) => expectMatches(server, `/fhir/CodeSystem?${query}`, 'CodeSystem', codeSystems, expected);
    await expectCodeSystems(`url=${q('http://acme.org/fhir/CodeSystem/colors')}`, ['colors']);
    await expectCodeSystems(`url:below=${q('http://acme.org/fhir/CodeSystem/')}`, ['colors', 'shapes']);
    await expectCodeSystems(`url:above=${q('http://other.org/CodeSystem/colors/extra')}`, ['elsewhere']);
  });

  it('StructureDefinition?url', async () => {
    const expectProfiles = (query: string, expected: string[]) => expectMatches(server, `/fhir/StructureDefinition?${query}`, 'StructureDefinition', profiles, expected);
    await expectProfiles(`url=${q('http://acme.org/fhir/StructureDefinition/vip-patient')}`, ['vip']);
    await expectProfiles(`url:below=${q('http://acme.org/fhir/StructureDefinition/')}`, ['vip', 'vipPlus']);
    await expectProfiles(`url:below=${q('http://hl7.org/fhir/')}`, []);
  });
});
