import { describe, expect, it } from 'vitest';
import { CallBatcher } from '../../src/subscriptions/call-batcher.js';

/** A batcher that doubles numbers, recording each flush's items; a flush of a negative number fails. */
function doubler(windowMs = 2) {
  const flushes: number[][] = [];
  let release: () => void = () => undefined;
  let gate = Promise.resolve();
  const batcher = new CallBatcher(async (items: number[]) => {
    flushes.push(items);
    await gate;
    if (items.some((n) => n < 0)) throw new Error('negative');
    return items.map((n) => n * 2);
  }, windowMs);
  const hold = () => (gate = new Promise((resolve) => (release = resolve)));
  return { batcher, flushes, hold, release: () => release() };
}

describe('CallBatcher', () => {
  it('flushes calls made within the window together, each caller getting its own answer', async () => {
    const { batcher, flushes } = doubler();
    const answers = await Promise.all([batcher.call(1), batcher.call(2), batcher.call(3)]);
    expect(answers).toEqual([2, 4, 6]);
    expect(flushes).toEqual([[1, 2, 3]]);
  });

  it('puts calls made while a flush runs into the next flush', async () => {
    const { batcher, flushes, hold, release } = doubler();
    hold();
    const first = batcher.call(1);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const later = [batcher.call(2), batcher.call(3)];
    expect(flushes).toEqual([[1]]);
    release();
    expect(await Promise.all([first, ...later])).toEqual([2, 4, 6]);
    expect(flushes).toEqual([[1], [2, 3]]);
  });

  it('fails every call of a flush that failed, and flushes later calls afresh', async () => {
    const { batcher, flushes } = doubler();
    const failed = [batcher.call(1), batcher.call(-1)].map((call) => call.then(() => 'answered', (error: Error) => error.message));
    expect(await Promise.all(failed)).toEqual(['negative', 'negative']);
    expect(await batcher.call(5)).toBe(10);
    expect(flushes).toEqual([[1, -1], [5]]);
  });
});
