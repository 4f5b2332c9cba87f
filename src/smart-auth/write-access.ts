import { errors } from '../errors.js';
import type { Queryable, WriteHook } from '../store/index.js';
import type { Change } from '../store/index.js';
import { grantingScopes, isUnconfined, type AccessPolicy } from './policy.js';
import type { Permission } from './scopes.js';

/** What the write path needs of search: whether the policy lets a stored resource through. */
export interface Visibility {
  isVisible(db: Queryable, policy: AccessPolicy, type: string, id: string, permissions: Permission[]): Promise<boolean>;
}

function permissionOf(change: Change): Permission {
  if (change.operation === 'delete') return 'd';
  return change.previous ? 'u' : 'c';
}

/**
 * Access on the write path: the token must grant the change on the type; where its scopes are
 * confined (patient compartment, query), the resource must be within reach before the change (its
 * current rows) and after it (its new index rows, in the same transaction): a write can neither
 * touch nor create anything outside the token's reach. Writes without a policy are the server's own.
 */
export function writeAccessHook(visibility: Visibility): WriteHook {
  const confined = (access: AccessPolicy, change: Change, permission: Permission) => {
    const scopes = grantingScopes(access, change.resourceType, permission);
    if (scopes.length === 0) throw errors.insufficientScope(`The access token does not grant ${permission} on ${change.resourceType}`);
    return !scopes.some(isUnconfined);
  };
  return {
    name: 'access',
    beforeWrite: async (tx, change) => {
      const access = change.access;
      if (!access || !change.previous) return;
      const permission = permissionOf(change);
      if (confined(access, change, permission) && !(await visibility.isVisible(tx, access, change.resourceType, change.id, [permission]))) {
        // What the token may read but not change (a Practitioner under `patient/*.cruds`) is 403; the rest does not exist for it.
        if (await visibility.isVisible(tx, access, change.resourceType, change.id, ['r'])) {
          throw errors.forbidden(`The access token does not allow ${permission === 'd' ? 'deleting' : 'changing'} ${change.resourceType}/${change.id}`);
        }
        throw errors.notFound(change.resourceType, change.id);
      }
    },
    afterWrite: async (tx, change) => {
      const access = change.access;
      if (!access) return;
      const permission = permissionOf(change);
      if (!confined(access, change, permission) || change.operation === 'delete') return;
      if (!(await visibility.isVisible(tx, access, change.resourceType, change.id, [permission]))) {
        throw errors.forbidden(`The access token does not allow ${change.resourceType} with this content (outside the patient's compartment or the scope's query)`);
      }
    },
  };
}
