/** The p-th percentile (0..100) of the values, by nearest rank; 0 for none. */
export function percentile(values: readonly number[], p: number, sorted = false): number {
  if (values.length === 0) return 0;
  const ordered = sorted ? values : [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * ordered.length);
  return ordered[Math.min(ordered.length - 1, Math.max(0, rank - 1))];
}

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  max: number;
}

export function summarizeLatencies(values: readonly number[]): LatencySummary {
  const ordered = [...values].sort((a, b) => a - b);
  const mean = ordered.length ? ordered.reduce((sum, v) => sum + v, 0) / ordered.length : 0;
  return {
    p50: percentile(ordered, 50, true),
    p95: percentile(ordered, 95, true),
    p99: percentile(ordered, 99, true),
    mean,
    max: ordered[ordered.length - 1] ?? 0,
  };
}
