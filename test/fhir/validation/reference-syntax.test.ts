import { describe, expect, it } from 'vitest';
import { isValidId } from '../../../src/fhir/ids.js';
import { checkReferenceSyntax } from '../../../src/fhir/validation/index.js';

describe('checkReferenceSyntax', () => {
  it('parses relative references, with or without a version', () => {
    expect(checkReferenceSyntax('Patient/123')).toEqual({ ok: true, kind: 'relative', resourceType: 'Patient', id: '123' });
    expect(checkReferenceSyntax('Patient/a.b-C/_history/7')).toEqual({
      ok: true,
      kind: 'relative',
      resourceType: 'Patient',
      id: 'a.b-C',
      versionId: '7',
    });
  });

  it('parses conditional references', () => {
    expect(checkReferenceSyntax('Patient?identifier=http://x|1&active=true')).toEqual({
      ok: true,
      kind: 'conditional',
      resourceType: 'Patient',
      query: 'identifier=http://x|1&active=true',
    });
  });

  it('accepts absolute URLs, urn:uuid, urn:oid and other URNs', () => {
    for (const ref of [
      'http://example.org/fhir/Patient/1',
      'https://example.org/anything?x=1',
      'urn:uuid:c757873d-ec9a-4326-a141-556f43239520',
      'urn:uuid:C757873D-EC9A-4326-A141-556F43239520',
      'urn:oid:2.16.840.1.113883.4.1',
      'urn:ietf:rfc:3986',
    ]) {
      expect(checkReferenceSyntax(ref), ref).toMatchObject({ ok: true });
    }
  });

  it('parses local references; "#" alone is the container', () => {
    expect(checkReferenceSyntax('#med1')).toEqual({ ok: true, kind: 'local', localId: 'med1' });
    expect(checkReferenceSyntax('#')).toEqual({ ok: true, kind: 'local', localId: '' });
  });

  it.each([
    ['Patient', /expected Type\/id/],
    ['Patient/', /expected Type\/id/],
    ['patient/1', /unknown resource type "patient"/],
    ['Patient/' + 'x'.repeat(65), /invalid id/],
    ['Patient/1/_history/a b', /invalid version id/],
    ['Patient/1/_history', /expected Type\/id/],
    ['urn:uuid:1234', /not a valid urn:uuid/],
    ['urn:oid:abc', /not a valid urn:oid/],
    ['urn:x', /not a valid URN/],
    ['Patient? ', /no search parameters/],
    ['Foo?x=1', /unknown resource type "Foo"/],
    ['#a b', /not a valid local reference/],
    ['ftp://', /expected Type\/id/],
    ['a b', /expected Type\/id/],
  ])('rejects %j', (ref, problem) => {
    const result = checkReferenceSyntax(ref);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.problem).toMatch(problem);
  });
});

describe('isValidId', () => {
  it('follows [A-Za-z0-9-.]{1,64}', () => {
    expect(isValidId('a')).toBe(true);
    expect(isValidId('A-z.0'.repeat(12) + 'abcd')).toBe(true);
    expect(isValidId('x'.repeat(65))).toBe(false);
    expect(isValidId('')).toBe(false);
    expect(isValidId('a_b')).toBe(false);
  });
});
