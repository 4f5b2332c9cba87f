import type { FastifyBaseLogger } from 'fastify';
import type { Queryable, WriteHook } from '../store/index.js';
import { INDEX_TABLES } from './index-writer.js';

/** The tables searches plan on (the resources and their index rows), and the history: the change feed and history reads plan on it. */
const PLANNED_TABLES = ['resource', 'resource_history', ...INDEX_TABLES];

export interface PlannerStatisticsOptions {
  /** Resources written since the last refresh that call for one. */
  threshold?: number;
  /** How long writing must have paused before the refresh runs. */
  quietMs?: number;
}

/**
 * Refreshes PostgreSQL's planner statistics after a burst of writes (an import, a load of
 * transaction Bundles), once the burst is over. Autovacuum gets there too, but up to a minute
 * later and sometimes with statistics sampled mid-load: meanwhile the planner takes a common
 * category for a rare one and hashes thousands of matches to sort them (a first page of
 * `Observation?category=vital-signs` in 5.5 ms instead of 0.9 ms). ANALYZE blocks no reads or
 * writes; several processes running it is harmless.
 */
export class PlannerStatistics {
  private written = 0;
  private timer?: NodeJS.Timeout;
  private readonly threshold: number;
  private readonly quietMs: number;

  constructor(
    private readonly db: Queryable,
    private readonly log: Pick<FastifyBaseLogger, 'warn'>,
    options: PlannerStatisticsOptions = {},
  ) {
    this.threshold = options.threshold ?? 5000;
    this.quietMs = options.quietMs ?? 3000;
  }

  /** Counts every resource written; a burst past the threshold schedules a refresh for when it is over. */
  writeHook(): WriteHook {
    return {
      name: 'planner-statistics',
      afterWrite: () => this.noteWrite(),
    };
  }

  private noteWrite(): void {
    this.written += 1;
    if (this.written < this.threshold) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh(), this.quietMs);
    this.timer.unref();
  }

  /** Analyzes the searched tables now (and forgets the writes counted so far). */
  async refresh(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.written = 0;
    try {
      await this.db.query(`ANALYZE ${PLANNED_TABLES.join(', ')}`);
    } catch (error) {
      this.log.warn({ err: error }, 'refreshing the planner statistics failed');
    }
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
