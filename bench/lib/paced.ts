import { summarizeLatencies, type LatencySummary } from './stats.js';
import { sleep } from './net.js';

export interface PacedOptions {
  /** Operations started per second, evenly spaced. */
  rate: number;
  durationSec: number;
  /**
   * Operations in flight at most: when the server falls behind, the schedule is not made up later
   * in a burst; the operations that could not start are counted as skipped.
   */
  maxInFlight: number;
  /** One operation; false when it failed. */
  run: (index: number) => Promise<boolean>;
}

export interface PacedResult {
  started: number;
  skipped: number;
  failed: number;
  seconds: number;
  /** Operations that succeeded per second of the whole run (until the last one ended). */
  achievedRate: number;
  /** From start to end of each operation, in milliseconds. */
  latency: LatencySummary;
}

/**
 * Starts operations at a fixed rate (an open workload, as independent clients write: one does not
 * wait for another's answer), unlike autocannon's closed loop of connections.
 */
export async function runPaced(options: PacedOptions): Promise<PacedResult> {
  const total = Math.round(options.rate * options.durationSec);
  const latencies: number[] = [];
  const inFlight = new Set<Promise<void>>();
  let failed = 0;
  let skipped = 0;
  let scheduled = 0;
  const begin = performance.now();
  const launch = (index: number) => {
    const started = performance.now();
    const operation: Promise<void> = options
      .run(index)
      .catch(() => false)
      .then((ok) => {
        if (ok) latencies.push(performance.now() - started);
        else failed++;
        inFlight.delete(operation);
      });
    inFlight.add(operation);
  };
  while (scheduled < total) {
    const due = Math.min(total, Math.floor(((performance.now() - begin) / 1000) * options.rate) + 1);
    for (; scheduled < due; scheduled++) {
      if (inFlight.size >= options.maxInFlight) skipped++;
      else launch(scheduled);
    }
    await sleep(Math.max(1, (scheduled / options.rate) * 1000 - (performance.now() - begin)));
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - begin) / 1000;
  return { started: total - skipped, skipped, failed, seconds, achievedRate: latencies.length / seconds, latency: summarizeLatencies(latencies) };
}
