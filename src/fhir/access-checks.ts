import { errors } from '../errors.js';
import { grantingScopes, grantsUnconfined, type Permission } from '../smart-auth/index.js';
import type { StoredVersion } from '../store/index.js';
import type { InteractionContext } from './types.js';

const WORDS: Record<Permission, string> = { c: 'create', r: 'read', u: 'update', d: 'delete', s: 'search' };

/** The token must grant the permission on the type at all (403 otherwise: the client knows the type exists). */
export function requirePermission(context: InteractionContext, type: string, permission: Permission): void {
  if (grantingScopes(context.access, type, permission).length === 0) {
    throw errors.insufficientScope(`The access token does not grant ${WORDS[permission]} on ${type}`);
  }
}

/** Search at system level (no type) needs some search permission. */
export function requireAnySearch(context: InteractionContext): void {
  if (!context.access.scopes.some((scope) => scope.permissions.has('s'))) throw errors.insufficientScope('The access token grants no search');
}

/**
 * The resource must be within the token's reach (the patient's compartment, the scope's query):
 * outside it, it is answered as if it did not exist (404), so that nothing leaks, not even existence.
 */
export async function requireVisible(context: InteractionContext, type: string, id: string, permission: Permission): Promise<void> {
  if (grantsUnconfined(context.access, type, permission)) return;
  const visible = await context.search.isVisible(context.tx ?? context.store.db, context.access, type, id, [permission]);
  if (!visible) throw errors.notFound(type, id);
}

/** Whether a granting scope leaves this type unconfined (then deleted resources may show as 410). */
export function isUnconfinedFor(context: InteractionContext, type: string, permission: Permission): boolean {
  return grantsUnconfined(context.access, type, permission);
}

/**
 * The current version of a resource the requester may read (read, vread, instance history, $meta).
 * A token confined to a compartment or query sees only what is within it, and a deleted resource as
 * missing (whether it was within reach cannot be told any more); otherwise a deletion is returned as such.
 */
export async function readableCurrent(context: InteractionContext, type: string, id: string): Promise<StoredVersion> {
  requirePermission(context, type, 'r');
  const current = await context.store.read(type, id, context.tx);
  if (!current) throw errors.notFound(type, id);
  if (!isUnconfinedFor(context, type, 'r')) {
    if (current.deleted) throw errors.notFound(type, id);
    await requireVisible(context, type, id, 'r');
  }
  return current;
}

export function requireAdmin(context: InteractionContext): void {
  if (!context.access.admin) throw errors.insufficientScope('This needs the admin scope');
}
