import type { RowIndex } from './prefilter.js';
import type { SearchParameterRegistry } from './registry.js';

/**
 * Many stored criteria on one resource type, one version to weigh against them: which criteria
 * could it match at all? Each criteria set is filed under the exact values one of its criteria
 * requires (`requiredPairs`), and a version is looked up by the values its index rows have, so a
 * version is weighed against the criteria that name its values, not against all of them
 * (a booking of one practitioner against that practitioner's subscriptions, not the clinic's).
 * Criteria with no exact token or reference value are always candidates.
 */
export class CriteriaSieve<T> {
  private readonly filed = new Map<string, T[]>();
  private readonly always: T[] = [];
  private readonly builtAt: number;
  private count = 0;

  /** `pairsOf`: the criteria's `requiredPairs` on the sieve's type. */
  constructor(
    private readonly registry: SearchParameterRegistry,
    private readonly pairsOf: (params: URLSearchParams) => string[] | undefined,
  ) {
    this.builtAt = registry.version;
  }

  /** Filed under the registry as it was: a custom parameter added or removed since may change what criteria require. */
  get stale(): boolean {
    return this.registry.version !== this.builtAt;
  }

  /** Items filed, each counted once. */
  get size(): number {
    return this.count;
  }

  add(item: T, params: URLSearchParams): void {
    this.count++;
    const pairs = this.pairsOf(params);
    if (!pairs) {
      this.always.push(item);
      return;
    }
    for (const pair of pairs) {
      const items = this.filed.get(pair);
      if (items) items.push(item);
      else this.filed.set(pair, [item]);
    }
  }

  /** Takes out an item filed with these criteria (the same object it was added with: its pairs are found again from it). */
  remove(item: T, params: URLSearchParams): void {
    const pairs = this.pairsOf(params);
    const lists = pairs ? pairs.map((pair) => this.filed.get(pair) ?? []) : [this.always];
    let found = false;
    for (const items of lists) {
      const at = items.indexOf(item);
      if (at >= 0) {
        items.splice(at, 1);
        found = true;
      }
    }
    if (found) this.count--;
    for (const pair of pairs ?? []) if (this.filed.get(pair)?.length === 0) this.filed.delete(pair);
  }

  /** The items whose criteria the version with these index rows may match, each once, in no particular order. */
  candidates(index: RowIndex): Set<T> {
    const found = new Set(this.always);
    for (const pair of index.pairs()) for (const item of this.filed.get(pair) ?? []) found.add(item);
    return found;
  }
}
