import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger } from 'fastify';

/**
 * What a step found: 'more' (it did a full batch: run again at once), 'later' (it did what there
 * was; more may come soon: run again after the spacing), 'idle' (nothing to do), 'busy' (another
 * process holds the work).
 */
export type StepOutcome = 'more' | 'later' | 'idle' | 'busy';

/** How soon a step that found the work held by another process is tried again. */
const BUSY_RETRY_MS = 50;

/**
 * Runs a step again and again while it has work ('more'), when kicked (a notification) and at
 * least every `pollMs` (notifications can be missed; the tables are the record). One run at a
 * time; a kick during a run makes another run follow it. 'busy' (another process holds the work)
 * retries shortly: that process may have finished its run before our kick's work was there to see.
 *
 * Runs that follow a kick or a 'later' start at least `spacingMs` apart: under a stream of writes,
 * each kick would otherwise start a run for one or two rows, and the fixed cost of a run (a
 * transaction, the cursor, the claim) would be paid per row. Spaced, one run takes what came
 * meanwhile; an idle loop still answers its first kick at once.
 */
export class WorkLoop {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private dirty = false;
  private stopped = false;
  private lastStart = 0;

  constructor(
    private readonly name: string,
    private readonly step: () => Promise<StepOutcome>,
    private readonly pollMs: number,
    private readonly log: FastifyBaseLogger,
    private readonly spacingMs: number | (() => number) = 0,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.timer.unref();
    this.kick();
  }

  kick(): void {
    if (this.stopped) return;
    this.dirty = true;
    this.running ??= this.run().finally(() => (this.running = undefined));
  }

  private later(ms: number): void {
    setTimeout(() => this.kick(), ms).unref();
  }

  private async run(): Promise<void> {
    while (this.dirty && !this.stopped) {
      const spacing = typeof this.spacingMs === 'number' ? this.spacingMs : this.spacingMs();
      const wait = this.lastStart + spacing - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (this.stopped) return;
      this.lastStart = Date.now();
      this.dirty = false;
      try {
        let outcome: StepOutcome;
        do outcome = await this.step();
        while (outcome === 'more' && !this.stopped);
        if (outcome === 'later') this.dirty = true;
        if (outcome === 'busy') this.later(BUSY_RETRY_MS);
      } catch (error) {
        this.log.error({ err: error, worker: this.name }, 'subscription worker step failed; retrying');
        this.later(1000);
        return;
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }
}

/** Event loop utilisation at which spacing starts to grow, and at which it reaches its longest. */
const QUIET_LOAD = 0.7;
const FULL_LOAD = 0.95;
/** Weight of the newest measurement in the smoothed utilisation. */
const SMOOTHING = 0.2;

/**
 * Spacing that grows with how busy this process is: `minMs` while its event loop is idle most of
 * the time, up to `maxMs` when it is saturated. A run's fixed cost (its statements, the wake-ups it
 * causes elsewhere) is paid per run, so under a stream of writes the CPU that would go to running
 * more often goes to the writes, and each run takes more rows; a quiet server keeps the short
 * latency.
 */
export function spacingByLoad(minMs: number, maxMs: number): () => number {
  let last = performance.eventLoopUtilization();
  let smoothed = 0;
  return () => {
    const now = performance.eventLoopUtilization();
    smoothed += SMOOTHING * (performance.eventLoopUtilization(now, last).utilization - smoothed);
    last = now;
    const load = Math.min(1, Math.max(0, (smoothed - QUIET_LOAD) / (FULL_LOAD - QUIET_LOAD)));
    return minMs + load * (maxMs - minMs);
  };
}
