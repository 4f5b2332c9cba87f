import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { createAll, q, searchLabels, sorted, type Ids, type Json } from './support.js';

/**
 * Escaping (search.html#escaping): in every parameter value `\,` `\$` `\|` and `\\` are the
 * characters themselves, not the separators of values (`,`), of a composite's components (`$`) or
 * of a token's system and code (`|`).
 */

const X = 'urn:example:x';
const Y = 'urn:example:y';

let server: TestServer;
let patients: Ids;

const patient = (family: string, identifier: Json[]): Json => ({ resourceType: 'Patient', name: [{ family }], identifier });

beforeAll(async () => {
  server = await startTestServer();
  patients = await createAll(server, {
    pipe: patient('Pipe|Family', [{ system: X, value: 'A|B' }]),
    plain: patient('Pipe', [{ system: X, value: 'A' }, { system: Y, value: 'B' }]),
    comma: patient('Comma', [{ system: Y, value: 'C,D' }]),
    backslash: patient('Backslash', [{ system: X, value: 'E\\' }]),
  });
});

afterAll(async () => {
  await server?.close();
});

const search = (query: string) => searchLabels(server, patients, `/fhir/Patient?${query}`);

describe('escaping in token values', () => {
  it('\\| is part of the code, not the bar between system and code', async () => {
    expect(await search(`identifier=${q(`${X}|A\\|B`)}`)).toEqual(['pipe']);
    expect(await search(`identifier=${q('A\\|B')}`)).toEqual(['pipe']);
    // Unescaped, the first bar separates the system "A" from the code "B".
    expect(await search(`identifier=${q('A|B')}`)).toEqual([]);
    expect(await search(`identifier=${q(`${X}|A`)}`)).toEqual(['plain']);
  });

  it('\\, is part of the code, not a separator of values', async () => {
    expect(await search(`identifier=${q(`${Y}|C\\,D`)}`)).toEqual(['comma']);
    expect(await search(`identifier=${q(`${Y}|B,${X}|A\\|B`)}`)).toEqual(sorted(['plain', 'pipe']));
  });

  it('\\\\ is a backslash, and the bar after it separates system and code', async () => {
    expect(await search(`identifier=${q(`${X}|E\\\\`)}`)).toEqual(['backslash']);
    expect(await search(`identifier=${q('E\\\\')}`)).toEqual(['backslash']);
  });
});

describe('escaping in string values', () => {
  it('\\| is a bar', async () => {
    expect(await search(`family:exact=${q('Pipe\\|Family')}`)).toEqual(['pipe']);
    expect(await search(`family=${q('pipe\\|')}`)).toEqual(['pipe']);
  });
});
