import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexedText } from '../../src/search/index-writer.js';
import { fhirRequest, startTestServer, type TestServer } from '../support/test-server.js';
import { createAll, expectMatches, q, type Ids } from './values-support.js';

/**
 * Values longer than an index entry can hold (PostgreSQL's B-tree limit is about 2.7 KB): a resource
 * holding one is stored and found like any other. The indexes keep a value's first 1,000 bytes,
 * and a search compares that much of what it looks for.
 */

let server: TestServer;
let patients: Ids;

/** `length` pseudo-random letters from `seed`: text that does not compress, as PostgreSQL would an index entry of a repetitive one. */
function letters(length: number, seed: number): string {
  let state = seed;
  let text = '';
  for (let i = 0; i < length; i++) {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    text += String.fromCharCode(97 + (state % 26));
  }
  return text;
}

const longFamily = `Longname${letters(10_000, 1)}`;
const longIdentifier = letters(5_000, 2);
const longUrl = `http://acme.org/fhir/ValueSet/${letters(4_000, 3)}`;

beforeAll(async () => {
  server = await startTestServer();
  patients = await createAll(server, {
    long: {
      resourceType: 'Patient',
      name: [{ family: longFamily }],
      identifier: [{ system: 'urn:acme:mrn', value: longIdentifier }],
    },
    short: { resourceType: 'Patient', name: [{ family: 'Longname' }], identifier: [{ system: 'urn:acme:mrn', value: 'short' }] },
  });
});

afterAll(async () => {
  await server.close();
});

describe('a resource with values longer than an index entry', () => {
  it('is stored, and read back whole', async () => {
    const read = await fhirRequest(server.app, 'GET', `/fhir/Patient/${patients.long}`);
    expect(read.status).toBe(200);
    expect(read.body.name[0].family).toBe(longFamily);
    expect(read.body.identifier[0].value).toBe(longIdentifier);
  });

  it('is found by a prefix of its string, and by the whole string', async () => {
    await expectMatches(server, `/fhir/Patient?family=Longname`, 'Patient', patients, ['long', 'short']);
    await expectMatches(server, `/fhir/Patient?family=${q(longFamily.slice(0, 40))}`, 'Patient', patients, ['long']);
    await expectMatches(server, `/fhir/Patient?family=${q(longFamily)}`, 'Patient', patients, ['long']);
    await expectMatches(server, `/fhir/Patient?family:exact=${q(longFamily)}`, 'Patient', patients, ['long']);
  });

  it('is found by its whole token, and not by a part of it', async () => {
    await expectMatches(server, `/fhir/Patient?identifier=${q(`urn:acme:mrn|${longIdentifier}`)}`, 'Patient', patients, ['long']);
    await expectMatches(server, `/fhir/Patient?identifier=${q(longIdentifier.slice(0, 100))}`, 'Patient', patients, []);
  });

  it('is found by its whole uri', async () => {
    const valueSets = await createAll(server, { long: { resourceType: 'ValueSet', status: 'active', url: longUrl } });
    await expectMatches(server, `/fhir/ValueSet?url=${q(longUrl)}`, 'ValueSet', valueSets, ['long']);
    await expectMatches(server, `/fhir/ValueSet?url:below=${q('http://acme.org/fhir/ValueSet/')}`, 'ValueSet', valueSets, ['long']);
  });
});

describe('indexedText', () => {
  it('keeps a value of up to 1,000 bytes as it is', () => {
    expect(indexedText('abc')).toBe('abc');
    expect(indexedText('a'.repeat(1000))).toBe('a'.repeat(1000));
  });

  it('cuts a longer one at 1,000 bytes of UTF-8, never inside a character', () => {
    expect(indexedText('a'.repeat(1001))).toBe('a'.repeat(1000));
    // "€" is 3 bytes: 333 of them are 999 bytes, a 334th would pass 1,000.
    expect(indexedText('€'.repeat(400))).toBe('€'.repeat(333));
    // "😀" is 4 bytes (two UTF-16 units): 250 of them are exactly 1,000 bytes.
    expect(indexedText('😀'.repeat(300))).toBe('😀'.repeat(250));
  });
});
