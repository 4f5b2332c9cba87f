import { afterEach, describe, expect, it, vi } from 'vitest';
import { PlannerStatistics } from '../../src/search/index.js';
import type { Queryable } from '../../src/store/index.js';

/** Statistics on a database that records the statements it is sent: a refresh after 100 writes and 1 s of quiet. */
function withRecordingDb() {
  vi.useFakeTimers();
  const statements: string[] = [];
  const db = { query: async (text: string) => (statements.push(text), { rows: [] }) } as unknown as Queryable;
  const statistics = new PlannerStatistics(db, { warn: () => undefined }, { threshold: 100, quietMs: 1000 });
  return { statistics, statements };
}

describe('planner statistics after a burst of writes', () => {
  afterEach(() => vi.useRealTimers());

  const burst = (statistics: PlannerStatistics, writes: number) => {
    const hook = statistics.writeHook();
    for (let i = 0; i < writes; i++) void hook.afterWrite?.(undefined as never, undefined as never);
  };

  it('analyzes the searched tables and the history once the writes have paused, not during the burst', async () => {
    const { statistics, statements } = withRecordingDb();
    burst(statistics, 150);
    await vi.advanceTimersByTimeAsync(900);
    burst(statistics, 10);
    await vi.advanceTimersByTimeAsync(900);
    expect(statements).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatch(/^ANALYZE resource, resource_history, search_string, search_token, .*search_text$/);
  });

  it('leaves a few writes to autovacuum', async () => {
    const { statistics, statements } = withRecordingDb();
    burst(statistics, 99);
    await vi.advanceTimersByTimeAsync(5000);
    expect(statements).toEqual([]);
  });

  it('counts afresh after a refresh', async () => {
    const { statistics, statements } = withRecordingDb();
    burst(statistics, 100);
    await vi.advanceTimersByTimeAsync(1000);
    burst(statistics, 50);
    await vi.advanceTimersByTimeAsync(5000);
    expect(statements).toHaveLength(1);
  });
});
