import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, startTestServer, type TestServer } from '../support/test-server.js';
import { allBut, createAll, expectSearchError, q, searchLabels, sorted, type Ids } from './support.js';

/**
 * string parameters (search.html#string): "a field matches a string query if the value of the
 * field equals or starts with the supplied parameter value, after both have been normalized by case
 * and accent". For a HumanName or an Address, each part (family, given, prefix, suffix, text; line,
 * city, district, state, postalCode, country, text) is such a field of its own. `:exact` is the
 * whole value, case and accent sensitive; `:contains` is anywhere in the value, normalized.
 */

let server: TestServer;
let ids: Ids;

const patients = {
  jose: {
    resourceType: 'Patient',
    name: [{ family: 'García', given: ['José'], prefix: ['Dr.'], suffix: ['Jr.'], text: 'Dr. José García Jr.' }],
    address: [{ line: ['12 Calle Mayor'], city: 'Málaga', state: 'Andalucía', postalCode: '29001', country: 'España' }],
  },
  jones: {
    resourceType: 'Patient',
    name: [{ family: 'Jones', given: ['Mary', 'Ann'] }],
    address: [{ city: 'Texas City', state: 'TX', postalCode: '77590', country: 'USA' }],
  },
  bojo: { resourceType: 'Patient', name: [{ family: 'Bojo', given: ['Peter'] }] },
  chalmers: {
    resourceType: 'Patient',
    name: [
      { use: 'official', family: 'Chalmers', given: ['Peter', 'James'], prefix: ['Mr.'], suffix: ['III'], text: 'Peter James Chalmers' },
      { use: 'usual', given: ['Jim'] },
    ],
    address: [
      {
        line: ['534 Erewhon St'],
        city: 'PleasantVille',
        state: 'Vic',
        postalCode: '3999',
        country: 'Australia',
        text: '534 Erewhon St PleasantVille, Vic 3999',
      },
    ],
  },
  mcdonald: { resourceType: 'Patient', name: [{ family: 'McDonald', given: ['Ronald'] }] },
  mcdonaldLower: { resourceType: 'Patient', name: [{ family: 'Mcdonald', given: ['Rhonda'] }] },
  vanDerBerg: { resourceType: 'Patient', name: [{ family: 'van der Berg', given: ['Anneke'] }] },
  /** A name with only text: it has a name but no family or given. */
  cher: { resourceType: 'Patient', name: [{ text: 'Cher' }] },
  /** No name at all. */
  noName: {
    resourceType: 'Patient',
    gender: 'unknown',
    address: [{ city: 'Paris, Texas', state: 'TX', postalCode: '75460', country: 'USA' }],
  },
};

beforeAll(async () => {
  server = await startTestServer();
  ids = await createAll(server, patients);
});

afterAll(async () => {
  await server?.close();
});

const search = (query: string) => searchLabels(server, ids, `/fhir/Patient?${query}`);

describe('string: normalized prefix match (no modifier)', () => {
  it('ignores case and accents on both sides', async () => {
    expect(await search('name=JOSE')).toEqual(['jose']);
    expect(await search('name=jose')).toEqual(['jose']);
    expect(await search(`name=${q('José')}`)).toEqual(['jose']);
    expect(await search(`family=${q('GARCÍA')}`)).toEqual(['jose']);
    expect(await search('family=garcia')).toEqual(['jose']);
    // Accents in the stored value and none in the searched one, and the other way round.
    expect(await search('address-city=malaga')).toEqual(['jose']);
    expect(await search(`address-country=${q('ESPAÑA')}`)).toEqual(['jose']);
    expect(await search('address-country=espana')).toEqual(['jose']);
  });

  it('matches a value that starts with the search value, not one that merely contains it', async () => {
    // "Jo" starts "Jones" (family) and "José" (given); "Bojo" only contains it.
    expect(await search('name=Jo')).toEqual(['jones', 'jose']);
    expect(await search('family=jon')).toEqual(['jones']);
    expect(await search('family=ones')).toEqual([]);
    expect(await search('family=Bo')).toEqual(['bojo']);
  });

  it('takes each value as a whole: a later word of a value is not a start', async () => {
    // "van der Berg" starts with "van", not with "Berg".
    expect(await search('family=van')).toEqual(['vanDerBerg']);
    expect(await search('family=Berg')).toEqual([]);
    expect(await search(`family=${q('van der')}`)).toEqual(['vanDerBerg']);
    // "Mary" and "Ann" are two given names; "Mary Ann" is neither of them, nor any other part.
    // ("Anneke" starts with "Ann" too.)
    expect(await search('given=Ann')).toEqual(['jones', 'vanDerBerg']);
    expect(await search('given=Anne')).toEqual(['vanDerBerg']);
    expect(await search(`given=${q('Mary Ann')}`)).toEqual([]);
  });

  it('name searches every part of every HumanName: family, given, prefix, suffix, text', async () => {
    expect(await search('name=chalmers')).toEqual(['chalmers']); // family
    expect(await search('name=Pet')).toEqual(['bojo', 'chalmers']); // given (and Chalmers' text)
    expect(await search('name=James')).toEqual(['chalmers']); // second given
    expect(await search('name=jim')).toEqual(['chalmers']); // given of a second name
    expect(await search('name=Dr')).toEqual(['jose']); // prefix (and text)
    expect(await search('name=Mr.')).toEqual(['chalmers']); // prefix
    expect(await search('name=jr')).toEqual(['jose']); // suffix
    expect(await search('name=iii')).toEqual(['chalmers']); // suffix
    expect(await search(`name=${q('Peter James')}`)).toEqual(['chalmers']); // text
    expect(await search(`name=${q('dr. jose garcia')}`)).toEqual(['jose']); // text
    expect(await search('name=cher')).toEqual(['cher']); // text only
  });

  it('family and given search only their own part', async () => {
    expect(await search('family=Peter')).toEqual([]);
    expect(await search('given=Peter')).toEqual(['bojo', 'chalmers']);
    expect(await search('given=Chalmers')).toEqual([]);
    expect(await search('given=Dr')).toEqual([]); // a prefix is not a given name
    expect(await search('family=Dr')).toEqual([]);
    expect(await search(`family=${q('Peter James')}`)).toEqual([]); // the text is not a family
    expect(await search('given=jim')).toEqual(['chalmers']);
    expect(await search('family=Mc')).toEqual(['mcdonald', 'mcdonaldLower']);
  });

  it('address searches every part of an Address: line, city, state, postalCode, country, text', async () => {
    expect(await search('address=534')).toEqual(['chalmers']); // line (and text)
    expect(await search('address=Erewhon')).toEqual([]); // inside the line, not its start
    expect(await search('address=12%20calle')).toEqual(['jose']); // line
    expect(await search('address=pleasant')).toEqual(['chalmers']); // city
    expect(await search('address=vic')).toEqual(['chalmers']); // state
    expect(await search('address=3999')).toEqual(['chalmers']); // postalCode
    expect(await search('address=austral')).toEqual(['chalmers']); // country
    expect(await search('address=andalucia')).toEqual(['jose']); // state, accent folded
    expect(await search(`address=${q('534 Erewhon St PleasantVille')}`)).toEqual(['chalmers']); // text
    expect(await search('address=TX')).toEqual(['jones', 'noName']);
    expect(await search('address=usa')).toEqual(['jones', 'noName']);
    expect(await search('address=Texas')).toEqual(['jones']); // "Texas City"; "Paris, Texas" does not start with it
    expect(await search('address=paris')).toEqual(['noName']);
  });

  it('the address-* parameters search only their own part', async () => {
    expect(await search('address-city=texas')).toEqual(['jones']);
    expect(await search('address-city=TX')).toEqual([]);
    expect(await search('address-city=3999')).toEqual([]);
    expect(await search('address-state=tx')).toEqual(['jones', 'noName']);
    expect(await search('address-state=vic')).toEqual(['chalmers']);
    expect(await search('address-state=austral')).toEqual([]);
    expect(await search('address-postalcode=29')).toEqual(['jose']);
    expect(await search('address-postalcode=7')).toEqual(['jones', 'noName']);
    expect(await search('address-postalcode=Vic')).toEqual([]);
    expect(await search('address-country=es')).toEqual(['jose']);
    expect(await search('address-country=USA')).toEqual(['jones', 'noName']);
  });

  it('LIKE wildcards in the search value are literal characters', async () => {
    expect(await search('family=%25')).toEqual([]);
    expect(await search('family=_ones')).toEqual([]);
    expect(await search('family:contains=%25')).toEqual([]);
    expect(await search('family:contains=_')).toEqual([]);
  });
});

describe('string: :exact', () => {
  it('matches the whole value, case-sensitively', async () => {
    expect(await search('family:exact=Jones')).toEqual(['jones']);
    expect(await search('family:exact=jones')).toEqual([]);
    expect(await search('family:exact=Jon')).toEqual([]);
    expect(await search('family:exact=McDonald')).toEqual(['mcdonald']);
    expect(await search('family:exact=Mcdonald')).toEqual(['mcdonaldLower']);
    expect(await search(`family:exact=${q('van der Berg')}`)).toEqual(['vanDerBerg']);
  });

  it('is accent-sensitive', async () => {
    expect(await search(`given:exact=${q('José')}`)).toEqual(['jose']);
    expect(await search('given:exact=Jose')).toEqual([]);
    expect(await search(`address-city:exact=${q('Málaga')}`)).toEqual(['jose']);
    expect(await search('address-city:exact=Malaga')).toEqual([]);
  });

  it('on name, compares every part as a whole', async () => {
    expect(await search('name:exact=Peter')).toEqual(['bojo', 'chalmers']);
    expect(await search(`name:exact=${q('Peter James Chalmers')}`)).toEqual(['chalmers']);
    expect(await search(`name:exact=${q('Peter James')}`)).toEqual([]);
    expect(await search('name:exact=Dr.')).toEqual(['jose']);
    expect(await search('name:exact=Dr')).toEqual([]);
  });
});

describe('string: :contains', () => {
  it('matches anywhere in a value, case- and accent-insensitively', async () => {
    expect(await search('family:contains=ONE')).toEqual(['jones']);
    expect(await search('family:contains=oj')).toEqual(['bojo']);
    expect(await search('family:contains=jo')).toEqual(['bojo', 'jones']);
    expect(await search('family:contains=berg')).toEqual(['vanDerBerg']);
    expect(await search('family:contains=rc')).toEqual(['jose']); // García
    expect(await search(`given:contains=${q('SÉ')}`)).toEqual(['jose']); // José
    expect(await search('given:contains=se')).toEqual(['jose']);
    expect(await search('family:contains=donald')).toEqual(['mcdonald', 'mcdonaldLower']);
    expect(await search('family:contains=xyz')).toEqual([]);
  });

  it('works on every part of a name or an address', async () => {
    expect(await search('name:contains=ame')).toEqual(['chalmers']); // James (and the text)
    expect(await search('name:contains=ald')).toEqual(['mcdonald', 'mcdonaldLower']); // Ronald, McDonald, Mcdonald
    expect(await search('address:contains=rewho')).toEqual(['chalmers']);
    expect(await search('address-city:contains=city')).toEqual(['jones']);
    expect(await search('address-city:contains=texas')).toEqual(['jones', 'noName']);
    expect(await search('address-city:contains=LAG')).toEqual(['jose']); // Málaga
  });
});

describe('string: :missing', () => {
  it('name:missing is true only for a resource with no name at all', async () => {
    expect(await search('name:missing=true')).toEqual(['noName']);
    expect(await search('name:missing=false')).toEqual(allBut(ids, 'noName'));
  });

  it('family:missing is true for a name without a family too', async () => {
    expect(await search('family:missing=true')).toEqual(['cher', 'noName']);
    expect(await search('family:missing=false')).toEqual(allBut(ids, 'cher', 'noName'));
  });

  it('address:missing', async () => {
    expect(await search('address:missing=true')).toEqual(sorted(['bojo', 'mcdonald', 'mcdonaldLower', 'vanDerBerg', 'cher']));
    expect(await search('address:missing=false')).toEqual(sorted(['jose', 'jones', 'chalmers', 'noName']));
    expect(await search('address-postalcode:missing=true')).toEqual(sorted(['bojo', 'mcdonald', 'mcdonaldLower', 'vanDerBerg', 'cher']));
  });

  it('refuses a value other than true or false', async () => {
    await expectSearchError(server, '/fhir/Patient?name:missing=maybe', 'name:missing');
  });
});

describe('string: several values and several parameters', () => {
  it('values separated by commas are ORed', async () => {
    expect(await search('family=jones,bojo')).toEqual(['bojo', 'jones']);
    expect(await search('name=xyz,jo')).toEqual(['jones', 'jose']);
    expect(await search('given:exact=Peter,Jim')).toEqual(['bojo', 'chalmers']);
    expect(await search('family:contains=xyz,onal')).toEqual(['mcdonald', 'mcdonaldLower']);
  });

  it('repeated parameters are ANDed (each may match a different name or part)', async () => {
    expect(await search('name=peter&name=james')).toEqual(['chalmers']);
    expect(await search('given=peter&family=bojo')).toEqual(['bojo']);
    expect(await search('name=jones&name=bojo')).toEqual([]);
    // "Jim" is in the usual name, "Chalmers" in the official one: both belong to the patient.
    expect(await search('given=jim&family=chalmers')).toEqual(['chalmers']);
    expect(await search('name=peter&address=534')).toEqual(['chalmers']);
    expect(await search('family=jones,bojo&given=peter')).toEqual(['bojo']);
  });

  it('an escaped comma (\\,) is part of the value, not a separator', async () => {
    // One value "Paris, Texas": only the city that starts with it.
    expect(await search(`address-city=${q('Paris\\, Texas')}`)).toEqual(['noName']);
    expect(await search(`address-city:exact=${q('Paris\\, Texas')}`)).toEqual(['noName']);
    expect(await search(`address=${q('paris\\, t')}`)).toEqual(['noName']);
    // Unescaped: two values, "Paris" or "Texas".
    expect(await search(`address-city=${q('Paris,Texas')}`)).toEqual(['jones', 'noName']);
    expect(await search(`address-city:exact=${q('Paris, Texas')}`)).toEqual([]);
  });
});

describe('string: errors', () => {
  it('refuses a modifier that string parameters do not have', async () => {
    await expectSearchError(server, '/fhir/Patient?family:below=Jo', 'below');
  });
});

describe('string: searches found from their index rows alone', () => {
  it('counts a resource once however many of its values match, pages without repeating it, and finds none once deleted', async () => {
    // Chalmers matches "Pet" twice (given Peter, text "Peter James..."), Bojo once.
    const first = await fhirRequest(server.app, 'GET', '/fhir/Patient?name=Pet&_count=1');
    expect(first.body.total).toBe(2);
    const next = (first.body.link as { relation: string; url: string }[]).find((l) => l.relation === 'next');
    const second = await fhirRequest(server.app, 'GET', next?.url as string);
    const pages = [first, second].flatMap((page) => (page.body.entry ?? []).map((e: { resource: { id: string } }) => e.resource.id));
    expect(sorted(pages)).toEqual(sorted([ids.bojo, ids.chalmers]));

    const created = await fhirRequest(server.app, 'POST', '/fhir/Patient', { resourceType: 'Patient', name: [{ family: 'Petrov', given: ['Petra'] }] });
    expect((await fhirRequest(server.app, 'GET', '/fhir/Patient?name=Pet')).body.total).toBe(3);
    expect((await fhirRequest(server.app, 'DELETE', `/fhir/Patient/${created.body.id}`)).status).toBe(200);
    const afterDelete = await fhirRequest(server.app, 'GET', '/fhir/Patient?name=Pet');
    expect(afterDelete.body.total).toBe(2);
    expect(sorted(afterDelete.body.entry.map((e: { resource: { id: string } }) => e.resource.id))).toEqual(sorted([ids.bojo, ids.chalmers]));
  });

  it('finds a search on several indexed parameters from the first one\'s rows, with the current values only', async () => {
    // Chalmers matches "Pet" twice; "chalmers" once: counted once.
    const both = await fhirRequest(server.app, 'GET', '/fhir/Patient?name=Pet&family=chalmers');
    expect([both.body.total, both.body.entry.map((e: { resource: { id: string } }) => e.resource.id)]).toEqual([1, [ids.chalmers]]);

    const created = await fhirRequest(server.app, 'POST', '/fhir/Patient', { resourceType: 'Patient', name: [{ family: 'Petrova', given: ['Petra'] }] });
    const total = async () => (await fhirRequest(server.app, 'GET', '/fhir/Patient?name=Pet&family=Petrova')).body.total;
    expect(await total()).toBe(1);
    const renamed = await fhirRequest(server.app, 'PUT', `/fhir/Patient/${created.body.id}`, { ...created.body, name: [{ family: 'Smith', given: ['Petra'] }] });
    expect(renamed.status).toBe(200);
    expect(await total()).toBe(0);
    expect((await fhirRequest(server.app, 'DELETE', `/fhir/Patient/${created.body.id}`)).status).toBe(200);
    expect((await fhirRequest(server.app, 'GET', '/fhir/Patient?name=Petra&family=Smith')).body.total).toBe(0);
  });
});
