import type { Resource } from '@medplum/fhirtypes';
import type { SearchEngine } from '../../search/index.js';
import type { Queryable, Store } from '../../store/index.js';

/** What the scheduling rules work with: the store's write path (nested writes), search, and our base URL. */
export interface SchedulingDeps {
  store: Store;
  search: SearchEngine;
  /** The FHIR base URL: references under it are local. */
  baseUrl: string;
}

export interface SchedulingSettings {
  /** How long `$hold` holds slots. */
  holdSeconds: number;
  /** How often each process looks for expired holds. */
  holdSweepMs: number;
}

const PAGE = 1000;

/**
 * Every match of a search, as the server (no access policy), within `tx`: the rules must see all
 * appointments of a slot or a practitioner, whoever asks. Pages by cursor; `limit` bounds the work.
 */
export async function findAll<T extends Resource>(
  deps: SchedulingDeps,
  tx: Queryable,
  type: T['resourceType'],
  criteria: [string, string][],
  limit = 10_000,
): Promise<T[]> {
  const found: T[] = [];
  let cursor: string | undefined;
  do {
    const params = new URLSearchParams(criteria);
    params.set('_count', String(PAGE));
    params.set('_total', 'none');
    if (cursor) params.set('_cursor', cursor);
    const page = await deps.search.search(tx, { types: [type], params, strict: true });
    for (const match of page.matches) if (match.json) found.push(JSON.parse(match.json) as T);
    cursor = page.next;
  } while (cursor && found.length < limit);
  return found;
}

/** The current content of a resource within `tx`, or undefined when missing or deleted. */
export async function readResource<T extends Resource>(deps: SchedulingDeps, tx: Queryable, type: T['resourceType'], id: string): Promise<T | undefined> {
  const stored = await deps.store.read(type, id, tx);
  return stored && !stored.deleted && stored.json ? (JSON.parse(stored.json) as T) : undefined;
}
