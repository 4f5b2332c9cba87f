import { isResourceType } from '../definitions/index.js';
import type { AccessPolicy } from './policy.js';
import { parseResourceScope, type Permission, type ResourceScope } from './scopes.js';

/** A scope as stored: its parts, so that scopes the server compiled itself (fhirUser's own resource) survive. */
interface StoredScope {
  context: ResourceScope['context'];
  resourceType: string;
  permissions: Permission[];
  query?: string;
  text: string;
}

/**
 * An access policy as JSON, for work done later on the requester's behalf without the token:
 * a subscription's notifications, an `$export` job. The work then shows only what this policy may
 * read, whatever happens to the token. Scopes stored as text (subscriptions of earlier versions)
 * are parsed again when loaded.
 */
export interface StoredPolicy {
  clientId: string;
  userId?: string;
  role?: AccessPolicy['role'];
  fhirUser?: string;
  patient?: string;
  admin: boolean;
  scopes: (StoredScope | string)[];
}

export function storePolicy(policy: AccessPolicy): StoredPolicy {
  return {
    clientId: policy.clientId,
    userId: policy.userId,
    role: policy.role,
    fhirUser: policy.fhirUser,
    patient: policy.patient,
    admin: policy.admin,
    scopes: policy.scopes.map((scope) => ({
      context: scope.context,
      resourceType: scope.resourceType,
      permissions: [...scope.permissions],
      query: scope.query?.toString(),
      text: scope.text,
    })),
  };
}

function loadScope(stored: StoredScope | string): ResourceScope | undefined {
  // A scope stored as text that no longer parses grants nothing (fail closed).
  if (typeof stored === 'string') return parseResourceScope(stored, isResourceType);
  return {
    context: stored.context,
    resourceType: stored.resourceType,
    permissions: new Set(stored.permissions),
    query: stored.query ? new URLSearchParams(stored.query) : undefined,
    text: stored.text,
  };
}

export function loadPolicy(stored: StoredPolicy): AccessPolicy {
  return {
    clientId: stored.clientId,
    userId: stored.userId,
    role: stored.role,
    fhirUser: stored.fhirUser,
    patient: stored.patient,
    admin: stored.admin,
    scopes: stored.scopes.map(loadScope).filter((scope): scope is ResourceScope => scope !== undefined),
  };
}
