import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { validateResource } from '../../../src/fhir/validation/index.js';
import { SHARED_DATA } from '../../support/shared-data.js';

/** Real data: Synthea patient bundles (US Core-shaped R4, urn:uuid references between entries). */
const DIR = `${SHARED_DATA}/synthea`;
const file = existsSync(DIR) ? readdirSync(DIR).filter((f) => f.endsWith('.json')).sort()[0] : undefined;

describe.skipIf(!file)('Synthea resources validate without errors', () => {
  const bundle: Bundle = file ? (JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Bundle) : { resourceType: 'Bundle', type: 'collection' };
  const resources = (bundle.entry ?? []).map((e) => e.resource as Resource);
  const first = (type: string): Resource => {
    const resource = resources.find((r) => r.resourceType === type);
    if (!resource) throw new Error(`no ${type} in ${file}`);
    return resource;
  };

  it.each(['Patient', 'Observation', 'Claim', 'ExplanationOfBenefit', 'Encounter', 'Organization'])('the first %s', (type) => {
    expect(validateResource(first(type))).toEqual([]);
  });

  it(`every resource of ${file}`, () => {
    expect(resources.length).toBeGreaterThan(50);
    const problems = resources.flatMap((r) =>
      validateResource(r).map((i) => `${r.resourceType}/${r.id}: ${i.severity} ${i.expression?.[0]} ${i.details?.text}`),
    );
    expect(problems).toEqual([]);
  });

  it('the whole transaction Bundle (nested resources, urn:uuid references)', () => {
    expect(bundle.type).toBe('transaction');
    expect(validateResource(bundle)).toEqual([]);
  });
});
