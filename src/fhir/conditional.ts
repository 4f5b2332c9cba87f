import { errors } from '../errors.js';
import { isResultParameter } from '../search/index.js';
import type { StoredVersion } from '../store/index.js';
import type { InteractionContext } from './types.js';

/**
 * Finds the resources a conditional interaction's criteria select (`If-None-Exist`, `PUT [type]?...`).
 * Must run inside the write's transaction: it first takes a lock on the criteria, so two conditional
 * creates of the same thing, in any process, run one after the other and the second sees the first.
 * At most two matches are read: the rules only distinguish none, one and many.
 */
export async function findConditionalMatches(context: InteractionContext, type: string, criteria: string): Promise<StoredVersion[]> {
  if (!context.tx) throw new Error('conditional matching needs a transaction');
  const params = new URLSearchParams(criteria);
  const normalized = [...params].filter(([name]) => !isResultParameter(name)).sort(([a], [b]) => a.localeCompare(b));
  if (normalized.length === 0) throw errors.badRequest(`Conditional criteria for ${type} are empty: "${criteria}"`);
  await context.store.lockKey(context.tx, `${type}?${new URLSearchParams(normalized).toString()}`);
  return context.search.findMatches(context.tx, type, criteria, 2, context.access);
}

/**
 * The search criteria of an `If-None-Exist` header (http.html#ccreate): `[parameters]`, or the same
 * as a relative URL, `?[parameters]` or `[type]?[parameters]`, as clients send it too.
 */
export function ifNoneExistCriteria(header: string, type: string): string {
  const criteria = header.trim();
  const prefix = /^([A-Za-z]*)\?/.exec(criteria);
  if (!prefix) return criteria;
  if (prefix[1] && prefix[1] !== type) throw errors.badRequest(`If-None-Exist names ${prefix[1]}, but the resource is a ${type}`);
  return criteria.slice(prefix[0].length);
}

/** Exactly one match or none; many is 412 (http.html#cond-update, #ccreate). */
export async function findSingleMatch(context: InteractionContext, type: string, criteria: string): Promise<StoredVersion | undefined> {
  const matches = await findConditionalMatches(context, type, criteria);
  if (matches.length > 1) throw errors.multipleMatches(`${type}?${criteria}`);
  return matches[0];
}
