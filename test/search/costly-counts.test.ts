import { describe, expect, it } from 'vitest';
import { CostlyCounts } from '../../src/search/costly-counts.js';

describe('CostlyCounts', () => {
  it('remembers a search for a while, then tries it again', () => {
    const counts = new CostlyCounts(1000);
    counts.remember('a', 0);
    expect(counts.isCostly('a', 999)).toBe(true);
    expect(counts.isCostly('b', 999)).toBe(false);
    expect(counts.isCostly('a', 1000)).toBe(false);
    expect(counts.isCostly('a', 1001)).toBe(false);
  });

  it('keeps at most its capacity, forgetting the oldest first', () => {
    const counts = new CostlyCounts(60_000, 2);
    counts.remember('a', 0);
    counts.remember('b', 0);
    counts.remember('a', 1);
    counts.remember('c', 2);
    expect(['a', 'b', 'c'].filter((key) => counts.isCostly(key, 3))).toEqual(['a', 'c']);
  });
});
