import { describe, expect, it } from 'vitest';
import { BundleScanner, JsonSyntaxError, type BundleLayout } from '../../src/fhir/transaction/bundle-scanner.js';

/** The spooled-Bundle scanner: where the members and entries are, fed in chunks of any size. */

function scan(text: string | Buffer, chunkSize = Number.POSITIVE_INFINITY): BundleLayout {
  const bytes = Buffer.from(text);
  const scanner = new BundleScanner();
  for (let start = 0; start < bytes.length; start += chunkSize) scanner.feed(bytes.subarray(start, start + chunkSize));
  return scanner.finish();
}

/** What the layout says, parsed as the server parses it: the members as an object, the entries as values. */
function read(text: string, chunkSize?: number): { head: Record<string, unknown>; entries: unknown[] } {
  const bytes = Buffer.from(text, 'utf8');
  const slice = (span: { start: number; end: number }) => JSON.parse(bytes.subarray(span.start, span.end).toString('utf8'));
  const layout = scan(text, chunkSize);
  const head = Object.fromEntries(layout.members.map(({ key, value }) => [slice(key), slice(value)]));
  return { head, entries: layout.entries.map(slice) };
}

/** Every way of cutting the body: whole, byte by byte, and a few sizes that split tokens and characters. */
const CHUNK_SIZES = [Number.POSITIVE_INFINITY, 1, 2, 3, 7, 64];

const TRICKY = `
{
\t"resourceType" : "Bundle",
  "id":"a\\"b\\\\",
  "type":"transaction",
  "total" : -1.5e3,
  "timestamp": null,
  "meta": {"tag": [{"code": "x]}{[\\\\"}], "lastUpdated": "2024-01-01T00:00:00Z"},
  "entry" : [
    {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "name": [{"family": "Zoë 日本 😀 \\u00e9", "given": ["\\"quoted\\"", "back\\\\"]}]},
     "request": {"method": "POST", "url": "Patient"}} ,
    {"resource": {"resourceType": "Observation", "valueSampledData": {"data": "1 2 3"}, "component": [[], [[1, [2]], {}], {"a": [true, false, null]}]},
     "request": {"method": "POST", "url": "Observation"}},
    "\\\\",
    12,
    [ ]
  ],
  "signature": {"data": "}]"}
}
`;

describe('the layout of a Bundle body', () => {
  it.each(CHUNK_SIZES)('finds each top-level member and entry exactly as JSON.parse reads them (chunks of %s bytes)', (chunkSize) => {
    const expected = JSON.parse(TRICKY) as Record<string, unknown> & { entry: unknown[] };
    const { head, entries } = read(TRICKY, chunkSize);
    const { entry, ...members } = expected;
    expect(head).toEqual(members);
    expect(entries).toEqual(entry);
  });

  it('gives byte offsets, so that multi-byte characters before an entry do not shift it', () => {
    const text = '{"id":"日本😀","entry":[{"a":"é"}]}';
    const layout = scan(text, 1);
    const bytes = Buffer.from(text, 'utf8');
    expect(bytes.subarray(layout.entries[0].start, layout.entries[0].end).toString('utf8')).toBe('{"a":"é"}');
  });

  it('has no entries without an entry array, and none for an empty one', () => {
    expect(read('{"resourceType":"Bundle","type":"batch"}')).toEqual({ head: { resourceType: 'Bundle', type: 'batch' }, entries: [] });
    expect(read('{"entry":[],"type":"batch"}')).toEqual({ head: { type: 'batch' }, entries: [] });
    expect(read('{}')).toEqual({ head: {}, entries: [] });
  });

  it('keeps an entry that is not an array as a member, for the Bundle check to refuse', () => {
    expect(read('{"type":"transaction","entry":{"resource":{}}}')).toEqual({ head: { type: 'transaction', entry: { resource: {} } }, entries: [] });
    expect(read('{"entry":"x"}')).toEqual({ head: { entry: 'x' }, entries: [] });
  });

  it('recognises the name entry however it is escaped', () => {
    expect(read('{"entr\\u0079":[{"a":1}]}').entries).toEqual([{ a: 1 }]);
    expect(read('{"\\u0065\\u006e\\u0074\\u0072\\u0079":[1]}').entries).toEqual([1]);
  });

  it('keeps the last of a repeated name, as JSON.parse does', () => {
    expect(read('{"entry":[1],"entry":[2,3]}')).toEqual({ head: {}, entries: [2, 3] });
    expect(read('{"entry":[1],"entry":null}')).toEqual({ head: { entry: null }, entries: [] });
    expect(read('{"entry":null,"entry":[4]}')).toEqual({ head: {}, entries: [4] });
  });
});

describe('malformed bodies are refused', () => {
  it.each([
    ['an empty body', ''],
    ['an array', '[{"resourceType":"Bundle"}]'],
    ['a string', '"Bundle"'],
    ['a number', '12'],
    ['garbage after the object', '{"type":"batch"} x'],
    ['a second object', '{}{}'],
    ['a missing colon', '{"type" "batch"}'],
    ['a missing comma between members', '{"type":"batch" "id":"x"}'],
    ['a trailing comma between members', '{"type":"batch",}'],
    ['a member without a value', '{"type":}'],
    ['a name that is not a string', '{type:"batch"}'],
    ['a trailing comma in the entry array', '{"entry":[{},]}'],
    ['a missing comma in the entry array', '{"entry":[{} {}]}'],
    ['mismatched brackets in an entry', '{"entry":[{"a":[1}]}'],
    ['a closing bracket where a value starts', '{"entry":[}]}'],
  ])('%s', (_name, text) => {
    for (const chunkSize of CHUNK_SIZES) expect(() => scan(text, chunkSize)).toThrow(JsonSyntaxError);
  });

  it('refuses every truncation of a valid body', () => {
    const bytes = Buffer.from(TRICKY.trim(), 'utf8');
    for (let length = 0; length < bytes.length; length++) {
      expect(() => scan(bytes.subarray(0, length), 5), `the first ${length} bytes`).toThrow(JsonSyntaxError);
    }
  });

  it('names the byte where the structure broke', () => {
    expect(() => scan('{"type":"batch"} x')).toThrow('unexpected data after the JSON object (at byte 17)');
  });
});
