import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/test-server.js';
import {
  entries,
  expectBadRequest,
  link,
  matchIds,
  named,
  outcomeEntry,
  patient,
  put,
  ref,
  searchOk,
  STRICT,
} from './machinery-support.js';

/**
 * The parameters that shape a search's result rather than select (search.html#return):
 * `_summary`, `_elements`, `_count=0`, `_contained`.
 */
let server: TestServer;

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

const full = (id: string, family: string, gender: string) =>
  patient(id, {
    text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${family}</div>` },
    ...named(family, 'Given'),
    gender,
    birthDate: '1980-02-03',
    maritalStatus: { text: 'married' },
    contact: [{ name: { family: 'Contact' } }],
    communication: [{ language: { text: 'English' } }],
    generalPractitioner: [ref('Practitioner/gp')],
  });

beforeAll(async () => {
  server = await startTestServer();
  await put(server, full('r-1', 'One', 'male'), full('r-2', 'Two', 'female'), full('r-3', 'Three', 'male'));
});

afterAll(async () => {
  await server?.close();
});

const hasSubsetted = (resource: { meta?: { tag?: { system?: string; code?: string }[] } }) =>
  (resource.meta?.tag ?? []).some((t) => t.system === SUBSETTED.system && t.code === SUBSETTED.code);

describe('_summary', () => {
  it('_summary=count gives the total only, with no entries', async () => {
    const response = await searchOk(server, '/fhir/Patient?_summary=count');
    expect(response.body.total).toBe(3);
    expect(response.body.entry).toBeUndefined();
    expect(link(response, 'self')).toBeDefined();
    expect(link(response, 'next')).toBeUndefined();
    const male = await searchOk(server, '/fhir/Patient?gender=male&_summary=count');
    expect(male.body.total).toBe(2);
    expect(male.body.entry).toBeUndefined();
  });

  it('_summary=count counts every match, not a page of them', async () => {
    const response = await searchOk(server, '/fhir/Patient?_summary=count&_count=1');
    expect(response.body.total).toBe(3);
    expect(response.body.entry).toBeUndefined();
  });

  it('_summary=true returns the summary elements, tagged SUBSETTED', async () => {
    const response = await searchOk(server, '/fhir/Patient?_summary=true&_sort=_id');
    expect(response.body.total).toBe(3);
    expect(matchIds(response)).toEqual(['r-1', 'r-2', 'r-3']);
    for (const { resource } of entries(response)) {
      expect(hasSubsetted(resource as never)).toBe(true);
      expect(Object.keys(resource).sort()).toEqual(['birthDate', 'gender', 'id', 'meta', 'name', 'resourceType']);
    }
  });

  it('_summary=data leaves out the text only, tagged SUBSETTED', async () => {
    const response = await searchOk(server, '/fhir/Patient?_summary=data&_id=r-2');
    const [{ resource }] = entries(response);
    expect(hasSubsetted(resource as never)).toBe(true);
    expect(resource.text).toBeUndefined();
    expect(Object.keys(resource).sort()).toEqual(
      ['birthDate', 'communication', 'contact', 'gender', 'generalPractitioner', 'id', 'maritalStatus', 'meta', 'name', 'resourceType'],
    );
  });

  it('_summary=text returns the text, id and meta', async () => {
    const response = await searchOk(server, '/fhir/Patient?_summary=text&_id=r-1');
    const [{ resource }] = entries(response);
    expect(hasSubsetted(resource as never)).toBe(true);
    expect(Object.keys(resource).sort()).toEqual(['id', 'meta', 'resourceType', 'text']);
  });

  it('_summary=false returns the whole resource, untagged', async () => {
    const response = await searchOk(server, '/fhir/Patient?_summary=false&_id=r-1');
    const [{ resource }] = entries(response);
    expect(hasSubsetted(resource as never)).toBe(false);
    expect(resource.contact).toEqual([{ name: { family: 'Contact' } }]);
    expect(resource.text).toBeDefined();
  });

  it('refuses an unknown _summary (400)', async () => {
    await expectBadRequest(server, '/fhir/Patient?_summary=some');
  });
});

describe('_elements', () => {
  it('returns the named elements (and id, meta), tagged SUBSETTED', async () => {
    const response = await searchOk(server, '/fhir/Patient?_elements=name,birthDate&_sort=_id');
    expect(matchIds(response)).toEqual(['r-1', 'r-2', 'r-3']);
    for (const { resource } of entries(response)) {
      expect(Object.keys(resource).sort()).toEqual(['birthDate', 'id', 'meta', 'name', 'resourceType']);
      expect(hasSubsetted(resource as never)).toBe(true);
    }
    expect(entries(response)[0].resource.name).toEqual([{ family: 'One', given: ['Given'] }]);
  });

  it('keeps _elements in the paging links', async () => {
    const first = await searchOk(server, '/fhir/Patient?_elements=gender&_sort=_id&_count=2');
    const second = await searchOk(server, link(first, 'next') as string);
    expect(matchIds(second)).toEqual(['r-3']);
    expect(Object.keys(entries(second)[0].resource).sort()).toEqual(['gender', 'id', 'meta', 'resourceType']);
  });

  it('refuses an _elements that names nothing (400)', async () => {
    await expectBadRequest(server, '/fhir/Patient?_elements=');
    await expectBadRequest(server, '/fhir/Patient?_elements=name.family');
  });
});

describe('_count=0 and empty results', () => {
  it('_count=0 gives the total and no entries', async () => {
    const response = await searchOk(server, '/fhir/Patient?_count=0');
    expect(response.body.total).toBe(3);
    expect(response.body.entry).toBeUndefined();
    expect(link(response, 'next')).toBeUndefined();
  });

  it('an empty result has total 0 and no entry array (JSON arrays are never empty in FHIR)', async () => {
    const response = await searchOk(server, '/fhir/Patient?name=nobody');
    expect(response.body.total).toBe(0);
    expect(response.body.entry).toBeUndefined();
    expect(response.text).not.toContain('"entry":[]');
  });
});

describe('parameters the search ignored', () => {
  it('are named in a warning and left out of the self and paging links, which show what the search used', async () => {
    const response = await searchOk(server, '/fhir/Patient?gender=male&nonsense=1&_filter=name%20eq%20x&_count=1');
    expect(matchIds(response)).toEqual(['r-1']);
    const diagnostics = outcomeEntry(response)?.issue.map((issue) => issue.diagnostics);
    expect(diagnostics).toEqual([expect.stringContaining('"nonsense"'), expect.stringContaining('"_filter"')]);
    expect(link(response, 'self')).toBe('/fhir/Patient?gender=male&_count=1');
    expect(link(response, 'next')).toMatch(/^\/fhir\/Patient\?gender=male&_count=1&_cursor=/);
  });
});

describe('_contained', () => {
  it('warns that _contained=true is not supported, in an OperationOutcome entry', async () => {
    const response = await searchOk(server, '/fhir/Patient?_contained=true&gender=female');
    expect(matchIds(response)).toEqual(['r-2']);
    const outcome = outcomeEntry(response);
    expect(outcome?.issue[0].severity).toBe('warning');
    expect(outcome?.issue[0].diagnostics).toContain('_contained');
    expect(link(response, 'self')).toBe('/fhir/Patient?gender=female');
  });

  it('refuses _contained=true under handling=strict; _contained=false is the default and silent', async () => {
    await expectBadRequest(server, '/fhir/Patient?_contained=true', STRICT);
    const response = await searchOk(server, '/fhir/Patient?_contained=false', STRICT);
    expect(outcomeEntry(response)).toBeUndefined();
    expect(matchIds(response)).toEqual(['r-1', 'r-2', 'r-3']);
  });
});
