/**
 * Searches whose first page could not be counted (more than the count limit, or not within the
 * time limit), remembered for a while: the same search again, from a client that polls or a page
 * reloaded, skips a count that would fail again. Under load each such attempt spent the time
 * limit's worth of PostgreSQL time for nothing (a value-quantity search on a common code ran at 20
 * requests/s at 1M resources, most of it counts that timed out).
 */
export class CostlyCounts {
  /** Search key → when to try counting it again; in insertion order, the oldest first. */
  private readonly retryAt = new Map<string, number>();

  constructor(
    private readonly forgetAfterMs = 60_000,
    private readonly capacity = 1000,
  ) {}

  isCostly(key: string, now = Date.now()): boolean {
    const at = this.retryAt.get(key);
    if (at === undefined) return false;
    if (at > now) return true;
    this.retryAt.delete(key);
    return false;
  }

  remember(key: string, now = Date.now()): void {
    this.retryAt.delete(key);
    this.retryAt.set(key, now + this.forgetAfterMs);
    if (this.retryAt.size > this.capacity) this.retryAt.delete(this.retryAt.keys().next().value as string);
  }
}
