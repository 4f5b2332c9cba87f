import { describe, expect, it } from 'vitest';
import { newResourceId } from '../../src/store/index.js';
import { isValidId } from '../../src/fhir/ids.js';

describe('server-assigned ids', () => {
  it('are version 7 UUIDs, valid FHIR ids, carrying the time they were made', () => {
    const before = Date.now();
    const id = newResourceId();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(isValidId(id)).toBe(true);
    const made = parseInt(id.replace('-', '').slice(0, 12), 16);
    expect(made).toBeGreaterThanOrEqual(before);
    expect(made).toBeLessThanOrEqual(Date.now());
  });

  it('sort by the time they were made, and never repeat', async () => {
    const first = Array.from({ length: 1000 }, newResourceId);
    await new Promise((resolve) => setTimeout(resolve, 2));
    const later = newResourceId();
    expect(new Set(first).size).toBe(1000);
    expect(first.every((id) => id < later)).toBe(true);
  });
});
