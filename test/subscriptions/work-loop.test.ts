import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FastifyBaseLogger } from 'fastify';
import { spacingByLoad, WorkLoop, type StepOutcome } from '../../src/subscriptions/loop.js';

const silentLog = { error: () => undefined } as unknown as FastifyBaseLogger;
const POLL_MS = 1000;
const SPACING_MS = 20;

/** A loop whose step answers the given outcomes in turn (then 'idle'), recording when each run started. */
function loopAnswering(outcomes: StepOutcome[]) {
  const starts: number[] = [];
  const t0 = Date.now();
  const loop = new WorkLoop(
    'test',
    async () => {
      starts.push(Date.now() - t0);
      return outcomes.shift() ?? 'idle';
    },
    POLL_MS,
    silentLog,
    SPACING_MS,
  );
  return { loop, starts };
}

describe('WorkLoop', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("runs again at once after 'more', and stops at 'idle' until the next poll", async () => {
    const { loop, starts } = loopAnswering(['more', 'more', 'idle']);
    loop.start();
    await vi.advanceTimersByTimeAsync(POLL_MS - 1);
    expect(starts).toEqual([0, 0, 0]);
    await vi.advanceTimersByTimeAsync(1);
    expect(starts).toEqual([0, 0, 0, POLL_MS]);
    await loop.stop();
  });

  it("runs again after the spacing after 'later', without a kick", async () => {
    const { loop, starts } = loopAnswering(['later', 'later', 'idle']);
    loop.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(starts).toEqual([0, SPACING_MS, 2 * SPACING_MS]);
    await loop.stop();
  });

  it('spaces runs asked for by kicks', async () => {
    const { loop, starts } = loopAnswering([]);
    loop.start();
    await vi.advanceTimersByTimeAsync(5);
    loop.kick();
    loop.kick();
    await vi.advanceTimersByTimeAsync(100);
    expect(starts).toEqual([0, SPACING_MS]);
    await loop.stop();
  });
});

describe('spacingByLoad', () => {
  const busyFor = (ms: number) => {
    const until = performance.now() + ms;
    while (performance.now() < until);
  };
  const idleFor = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('keeps the short spacing while the event loop is idle, grows to the long one when it is saturated, and comes back', async () => {
    const spacing = spacingByLoad(20, 50);
    await idleFor(20);
    expect(spacing()).toBe(20);
    let busy = 0;
    for (let i = 0; i < 25; i++) {
      busyFor(20);
      busy = spacing();
    }
    expect(busy).toBeGreaterThan(45);
    let quiet = busy;
    for (let i = 0; i < 25; i++) {
      await idleFor(20);
      quiet = spacing();
    }
    expect(quiet).toBe(20);
  });
});
