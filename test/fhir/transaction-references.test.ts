import { describe, expect, it } from 'vitest';
import { rewriteReferences } from '../../src/fhir/transaction/references.js';

describe('rewriting the references between transaction entries', () => {
  const ids = new Map([['urn:uuid:p1', 'Patient/123']]);
  const observation = {
    resourceType: 'Observation',
    subject: { reference: 'urn:uuid:p1' },
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    performer: [{ reference: 'Practitioner/9' }, { reference: 'urn:uuid:p1' }],
  };

  it('replaces every fullUrl with the new Type/id and leaves the original intact for a retry', () => {
    const rewritten = rewriteReferences(observation, ids);
    expect(rewritten.subject).toEqual({ reference: 'Patient/123' });
    expect(rewritten.performer).toEqual([{ reference: 'Practitioner/9' }, { reference: 'Patient/123' }]);
    expect(observation.subject.reference).toBe('urn:uuid:p1');
    expect(observation.performer[1].reference).toBe('urn:uuid:p1');
  });

  it('shares what it does not change, so that a large Bundle is not held twice', () => {
    const rewritten = rewriteReferences(observation, ids);
    expect(rewritten.code).toBe(observation.code);
    expect(rewritten.performer[0]).toBe(observation.performer[0]);
    const untouched = { resourceType: 'Patient', name: [{ family: 'Doe' }] };
    expect(rewriteReferences(untouched, ids)).toBe(untouched);
  });
});
