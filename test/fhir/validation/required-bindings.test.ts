import { describe, expect, it } from 'vitest';
import { codeSetHas, requiredCodeSet } from '../../../src/fhir/validation/index.js';

describe('requiredCodeSet', () => {
  it('expands a value set that includes a whole code system', () => {
    const gender = requiredCodeSet('http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1');
    expect(gender && [...gender.codes].sort()).toEqual(['female', 'male', 'other', 'unknown']);
  });

  it('includes nested concepts', () => {
    const status = requiredCodeSet('http://hl7.org/fhir/ValueSet/observation-status');
    expect(status).toBeDefined();
    expect(codeSetHas(status!, 'amended')).toBe(true);
    expect(codeSetHas(status!, 'corrected')).toBe(true); // child of "amended"
    expect(codeSetHas(status!, 'Final')).toBe(false); // case-sensitive
  });

  it('is cached: the same object on every call', () => {
    const url = 'http://hl7.org/fhir/ValueSet/name-use';
    expect(requiredCodeSet(url)).toBe(requiredCodeSet(url));
  });

  it('gives up on value sets it cannot expand simply or does not know', () => {
    expect(requiredCodeSet('http://hl7.org/fhir/ValueSet/mimetypes')).toBeUndefined(); // urn:ietf:bcp:13
    expect(requiredCodeSet('http://hl7.org/fhir/ValueSet/currencies')).toBeUndefined(); // ISO 4217, not present
    expect(requiredCodeSet('http://example.org/ValueSet/unknown')).toBeUndefined();
  });
});
