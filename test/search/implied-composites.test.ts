import { readdirSync, readFileSync } from 'node:fs';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { extractIndexRows } from '../../src/search/extract/index.js';
import { withImpliedComposites } from '../../src/search/implied-composites.js';
import { SearchParameterRegistry } from '../../src/search/registry.js';
import { SHARED_DATA } from '../support/shared-data.js';

/**
 * The ground `code=X&value-quantity=gtY` stands on when it is searched as `code-value-quantity`
 * (src/search/implied-composites.ts): on real Observations, the composite's rows are exactly every
 * code row paired with every value row.
 */

const registry = new SearchParameterRegistry();

function observations(): Resource[] {
  return ['synthea', 'inferno'].flatMap((folder) =>
    readdirSync(`${SHARED_DATA}/${folder}`)
      .filter((file) => file.endsWith('.json'))
      .flatMap((file) => (JSON.parse(readFileSync(`${SHARED_DATA}/${folder}/${file}`, 'utf8')) as Bundle).entry ?? [])
      .map((entry) => entry.resource as Resource)
      .filter((resource) => resource?.resourceType === 'Observation'),
  );
}

/** The composite's rows as (code, value) pairs, and the pairs of the two parameters' own rows. */
function pairs(resource: Resource, valueParam: 'value-quantity' | 'value-concept', composite: string): { composite: string[]; paired: string[] } {
  const rows = extractIndexRows(resource, registry, 'http://fhir.test/fhir');
  const codes = rows.token.filter((t) => t.param === 'code' && t.code).map((t) => [t.system, t.code]);
  const values =
    valueParam === 'value-quantity'
      ? rows.quantity.filter((q) => q.param === valueParam).map((q) => [q.system, q.code, q.low, q.high, q.canonicalCode, q.canonicalLow, q.canonicalHigh])
      : rows.token.filter((t) => t.param === valueParam).map((t) => [t.system, t.code, t.text]);
  const compositeRows = rows.composite
    .filter((c) => c.param === composite)
    .map((c) => {
      const value =
        valueParam === 'value-quantity'
          ? [c.c2System, c.c2Code, c.c2Low, c.c2High, c.c2CanonicalCode, c.c2CanonicalLow, c.c2CanonicalHigh]
          : [c.c2System, c.c2Code, c.c2Text];
      return JSON.stringify([c.c1System, c.c1Code, ...value]);
    });
  const paired = codes.flatMap((code) => values.map((value) => JSON.stringify([...code, ...value])));
  return { composite: compositeRows.sort(), paired: paired.sort() };
}

describe('implied composites', () => {
  const all = observations();

  it('the shared data has Observations with quantities and with coded values', () => {
    expect(all.filter((o) => 'valueQuantity' in o).length).toBeGreaterThan(100);
    expect(all.filter((o) => 'valueCodeableConcept' in o).length).toBeGreaterThan(10);
  });

  it.each([
    ['value-quantity', 'code-value-quantity'],
    ['value-concept', 'code-value-concept'],
  ] as const)('code and %s rows, paired, are the %s rows of every Observation', (valueParam, composite) => {
    const differing = all.filter((o) => {
      const { composite: rows, paired } = pairs(o, valueParam, composite);
      return JSON.stringify(rows) !== JSON.stringify(paired);
    });
    expect(differing.map((o) => o.id)).toEqual([]);
  });

  it('pairs one plain criterion of each, in the place of the first; leaves the others', () => {
    const criteria = [
      { key: 'status', values: ['final'] },
      { key: 'value-quantity', values: ['gt5', 'lt1'] },
      { key: 'code', values: ['http://loinc.org|2823-3'] },
    ];
    expect(withImpliedComposites(registry, 'Observation', criteria)).toEqual({
      criteria: [
        { key: 'status', values: ['final'] },
        { key: 'code-value-quantity', values: ['http://loinc.org|2823-3$gt5', 'http://loinc.org|2823-3$lt1'] },
      ],
      replaced: [criteria[2], criteria[1]],
    });
  });

  it.each([
    ['a modifier', [{ key: 'code:text', values: ['potassium'] }, { key: 'value-quantity', values: ['gt5'] }]],
    ['a repeated code', [{ key: 'code', values: ['a'] }, { key: 'code', values: ['b'] }, { key: 'value-quantity', values: ['gt5'] }]],
    ['a system with any code', [{ key: 'code', values: ['http://loinc.org|'] }, { key: 'value-quantity', values: ['gt5'] }]],
    ['a human unit', [{ key: 'code', values: ['a'] }, { key: 'value-quantity', values: ['gt5||mmHg'] }]],
    ['a $ in a code', [{ key: 'code', values: ['a$b'] }, { key: 'value-quantity', values: ['gt5'] }]],
    ['too many pairs', [{ key: 'code', values: ['a', 'b', 'c', 'd', 'e'] }, { key: 'value-quantity', values: ['1', '2', '3', '4'] }]],
  ])('leaves the criteria as they are with %s', (_why, criteria) => {
    expect(withImpliedComposites(registry, 'Observation', criteria)).toEqual({ criteria, replaced: [] });
  });

  it('only on Observation', () => {
    const criteria = [{ key: 'code', values: ['a'] }, { key: 'value-quantity', values: ['gt5'] }];
    expect(withImpliedComposites(registry, 'Condition', criteria).replaced).toEqual([]);
  });
});
