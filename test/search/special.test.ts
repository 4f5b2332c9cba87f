import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, startTestServer, type TestServer } from '../support/test-server.js';
import { createResource, expectMatches, expectSearchError, outcomeText, q, search, type Ids } from './values-support.js';

/**
 * The parameters for all resources (https://hl7.org/fhir/R4/search.html#all): `_id`, `_lastUpdated`,
 * `_tag`, `_profile`, `_security`, `_source`, `_text`, `_content`, `_list`; `:missing` on each kind
 * of index; empty values; unknown parameters (ignored with a warning, refused with
 * `Prefer: handling=strict`); malformed values (#errors).
 */

let server: TestServer;

const XHTML = 'http://www.w3.org/1999/xhtml';
const TAGS = 'http://acme.org/tags';
const CONFIDENTIALITY = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
const VIP = 'http://acme.org/fhir/StructureDefinition/vip-patient';

const ids: Ids = { a: 'special-a', b: 'special-b', c: 'special-c' };
const lastUpdated: Record<string, string> = {};

const pause = () => new Promise((resolve) => setTimeout(resolve, 5));

beforeAll(async () => {
  server = await startTestServer();
  const patients = {
    a: {
      resourceType: 'Patient',
      id: ids.a,
      meta: {
        tag: [{ system: TAGS, code: 'needs-review' }],
        security: [{ system: CONFIDENTIALITY, code: 'R' }],
        profile: [VIP],
        source: 'http://acme.org/source#a1',
      },
      text: { status: 'generated', div: `<div xmlns="${XHTML}"><p>Patient with bone <b>metastases</b></p></div>` },
      name: [{ family: 'Zebedee', given: ['Ann'] }],
      gender: 'female',
      birthDate: '1970-01-01',
      generalPractitioner: [{ reference: 'Practitioner/gp1' }],
    },
    b: {
      resourceType: 'Patient',
      id: ids.b,
      meta: { tag: [{ system: TAGS, code: 'reviewed' }], security: [{ system: CONFIDENTIALITY, code: 'N' }], source: 'http://other.org/feed' },
      text: { status: 'generated', div: `<div xmlns="${XHTML}">Patient with liver disease</div>` },
      name: [{ family: 'Quinones' }],
      address: [{ city: 'Springfield' }],
      gender: 'male',
      birthDate: '1980-02-02',
    },
    c: { resourceType: 'Patient', id: ids.c, active: true },
  };
  for (const [label, patient] of Object.entries(patients)) {
    lastUpdated[label] = (await createResource(server, patient)).meta.lastUpdated;
    await pause();
  }
});

afterAll(async () => {
  await server?.close();
});

const expectPatients = (query: string, expected: string[]) => expectMatches(server, `/fhir/Patient?${query}`, 'Patient', ids, expected);

describe('_id and _lastUpdated', () => {
  it('_id: exact and case sensitive; several ids are ORed, repeated _id ANDed', async () => {
    await expectPatients('_id=special-a', ['a']);
    await expectPatients('_id=special-a,special-c', ['a', 'c']);
    await expectPatients('_id=SPECIAL-A', []);
    await expectPatients('_id=special', []);
    await expectPatients('_id=special-a&_id=special-b', []);
    await expectPatients('_id=special-a,special-b&_id=special-b,special-c', ['b']);
  });

  it('_lastUpdated with every prefix, against the instants the writes reported', async () => {
    const { a, b, c } = lastUpdated;
    expect(a < b && b < c).toBe(true);
    await expectPatients(`_lastUpdated=${q(b)}`, ['b']);
    await expectPatients(`_lastUpdated=eq${q(b)}`, ['b']);
    await expectPatients(`_lastUpdated=ne${q(b)}`, ['a', 'c']);
    await expectPatients(`_lastUpdated=gt${q(a)}`, ['b', 'c']);
    await expectPatients(`_lastUpdated=ge${q(b)}`, ['b', 'c']);
    await expectPatients(`_lastUpdated=lt${q(b)}`, ['a']);
    await expectPatients(`_lastUpdated=le${q(b)}`, ['a', 'b']);
    await expectPatients(`_lastUpdated=sa${q(a)}`, ['b', 'c']);
    await expectPatients(`_lastUpdated=eb${q(c)}`, ['a', 'b']);
    await expectPatients(`_lastUpdated=ge${q(a)}&_lastUpdated=lt${q(c)}`, ['a', 'b']);
  });

  it('_lastUpdated with partial dates: a year, a day', async () => {
    const year = lastUpdated.a.slice(0, 4);
    await expectPatients(`_lastUpdated=${year}`, ['a', 'b', 'c']);
    await expectPatients('_lastUpdated=gt2000-01-01', ['a', 'b', 'c']);
    await expectPatients('_lastUpdated=lt2000', []);
  });
});

describe('meta: _tag, _security, _profile, _source', () => {
  it('_tag and _security are tokens', async () => {
    await expectPatients(`_tag=${q(`${TAGS}|needs-review`)}`, ['a']);
    await expectPatients('_tag=reviewed', ['b']);
    await expectPatients(`_tag=${q(`${TAGS}|`)}`, ['a', 'b']);
    await expectPatients(`_tag=${q('http://other.org/tags|needs-review')}`, []);
    await expectPatients('_security=R', ['a']);
    await expectPatients(`_security=${q(`${CONFIDENTIALITY}|N`)}`, ['b']);
    await expectPatients('_security:not=R', ['b', 'c']);
  });

  it('_profile and _source are uris', async () => {
    await expectPatients(`_profile=${q(VIP)}`, ['a']);
    await expectPatients(`_profile=${q('http://acme.org/fhir/StructureDefinition/vip')}`, []);
    await expectPatients(`_source=${q('http://acme.org/source#a1')}`, ['a']);
    await expectPatients(`_source:below=${q('http://other.org/')}`, ['b']);
  });

  it(':missing on meta (a token and two uris)', async () => {
    await expectPatients('_tag:missing=true', ['c']);
    await expectPatients('_profile:missing=true', ['b', 'c']);
    await expectPatients('_source:missing=false', ['a', 'b']);
  });
});

describe('_text and _content', () => {
  it('_text searches the narrative only', async () => {
    await expectPatients('_text=metastases', ['a']);
    await expectPatients('_text=liver', ['b']);
    await expectPatients('_text=patient', ['a', 'b']);
    await expectPatients(`_text=${q('liver disease')}`, ['b']);
    await expectPatients(`_text=${q('bone or liver')}`, ['a', 'b']);
    // the name is not in the narrative
    await expectPatients('_text=Zebedee', []);
  });

  it('_content searches all the text of the resource, narrative included', async () => {
    await expectPatients('_content=Zebedee', ['a']);
    await expectPatients('_content=springfield', ['b']);
    await expectPatients('_content=metastases', ['a']);
    await expectPatients('_content=nowhere', []);
  });

  it('modifiers are refused', async () => {
    await expectSearchError(server, '/fhir/Patient?_text:exact=liver', 'exact');
  });

  it('are not offered on AuditEvent, whose text is not indexed: unknown there, and absent from the CapabilityStatement', async () => {
    await expectSearchError(server, '/fhir/AuditEvent?_content=read', '_content', 400, { prefer: 'handling=strict' });
    const lenient = await fhirRequest(server.app, 'GET', '/fhir/AuditEvent?_text=read');
    expect(lenient.status).toBe(200);
    const warning = lenient.body.entry.find((e: { search?: { mode: string } }) => e.search?.mode === 'outcome');
    expect(outcomeText(warning.resource)).toContain('_text');
    const { rows } = await server.db.query(`SELECT count(*)::int AS n FROM search_text WHERE resource_type = 'AuditEvent'`);
    expect(rows[0].n).toBe(0);

    const capabilities = await fhirRequest(server.app, 'GET', '/fhir/metadata');
    const params = (type: string) =>
      capabilities.body.rest[0].resource.find((r: { type: string }) => r.type === type).searchParam.map((p: { name: string }) => p.name);
    expect(params('AuditEvent')).not.toContain('_content');
    expect(params('AuditEvent')).not.toContain('_text');
    expect(params('Patient')).toEqual(expect.arrayContaining(['_content', '_text']));
  });
});

describe('_list', () => {
  it('the resources a List has as items, of the searched type', async () => {
    const list = await createResource(server, {
      resourceType: 'List',
      status: 'current',
      mode: 'working',
      entry: [{ item: { reference: `Patient/${ids.a}` } }, { item: { reference: `Patient/${ids.c}` } }, { item: { reference: 'Observation/o1' } }],
    });
    const other = await createResource(server, { resourceType: 'List', status: 'current', mode: 'working', entry: [{ item: { reference: `Patient/${ids.b}` } }] });
    await expectPatients(`_list=${list.id}`, ['a', 'c']);
    await expectPatients(`_list=${list.id}&gender=female`, ['a']);
    await expectPatients(`_list=${list.id},${other.id}`, ['a', 'b', 'c']);
    await expectPatients('_list=no-such-list', []);
    // a deleted List has no items
    await fhirRequest(server.app, 'DELETE', `/fhir/List/${other.id}`);
    await expectPatients(`_list=${other.id}`, []);
  });
});

describe(':missing on each kind of index', () => {
  it('string, token, date, reference (uri: see meta above and uri.test.ts; number, quantity: number-quantity.test.ts)', async () => {
    await expectPatients('family:missing=true', ['c']);
    await expectPatients('name:missing=false', ['a', 'b']);
    await expectPatients('gender:missing=true', ['c']);
    await expectPatients('birthdate:missing=true', ['c']);
    await expectPatients('birthdate:missing=false', ['a', 'b']);
    await expectPatients('general-practitioner:missing=true', ['b', 'c']);
  });

  it(':missing takes true or false', async () => {
    await expectSearchError(server, '/fhir/Patient?gender:missing=maybe', 'gender');
  });
});

describe('empty values, unknown parameters, malformed values', () => {
  it('"Empty parameters are not an error - they are just ignored by the server"', async () => {
    await expectPatients('name=', ['a', 'b', 'c']);
    await expectPatients('name=&gender=female', ['a']);
    await expectPatients('birthdate=', ['a', 'b', 'c']);
    await expectPatients('_id=', ['a', 'b', 'c']);
    await expectPatients('_text=', ['a', 'b', 'c']);
    await expectPatients('_content=', ['a', 'b', 'c']);
    await expectPatients('_list=', ['a', 'b', 'c']);
  });

  it('an empty _lastUpdated is ignored too', async () => {
    await expectPatients('_lastUpdated=', ['a', 'b', 'c']);
  });

  it('an unknown parameter is ignored, with a warning OperationOutcome entry (search.mode = outcome)', async () => {
    const response = await search(server, '/fhir/Patient?not-a-parameter=1&gender=female');
    const entries = response.body.entry as { resource: Record<string, any>; search: { mode: string } }[];
    expect(entries.filter((e) => e.search.mode === 'match').map((e) => e.resource.id)).toEqual([ids.a]);
    const outcomes = entries.filter((e) => e.search.mode === 'outcome');
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0].resource.resourceType).toBe('OperationOutcome');
    expect(outcomes[0].resource.issue[0].severity).toBe('warning');
    expect(outcomeText(outcomes[0].resource as never)).toContain('not-a-parameter');
    // lenient handling, asked for, is the same
    const lenient = await search(server, '/fhir/Patient?not-a-parameter=1', { prefer: 'handling=lenient' });
    expect(lenient.body.entry.filter((e: { search: { mode: string } }) => e.search.mode === 'match')).toHaveLength(3);
  });

  it('an unknown parameter is refused with Prefer: handling=strict', async () => {
    await expectSearchError(server, '/fhir/Patient?not-a-parameter=1', 'not-a-parameter', 400, { prefer: 'handling=strict' });
  });

  it('an unsupported modifier is refused even when lenient ("Servers SHALL reject ... a modifier ... not support[ed]")', async () => {
    await expectSearchError(server, '/fhir/Patient?gender:sounds-like=male', 'sounds-like');
    await expectSearchError(server, '/fhir/Patient?_id:above=special-a', 'above');
  });

  it('a malformed value is refused (400), naming the parameter', async () => {
    await expectSearchError(server, '/fhir/Patient?birthdate=notadate', 'birthdate');
    await expectSearchError(server, '/fhir/Patient?birthdate=zz2020', 'birthdate');
    await expectSearchError(server, '/fhir/Patient?_lastUpdated=yesterday', '_lastUpdated');
    await expectSearchError(server, '/fhir/Patient?_count=many', '_count');
  });
});
