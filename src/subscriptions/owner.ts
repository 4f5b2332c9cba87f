import { isResourceType } from '../definitions/index.js';
import { parseResourceScope, type AccessPolicy, type ResourceScope } from '../smart-auth/index.js';

/**
 * Who created a subscription, as stored beside it: the compiled access policy of the creating
 * request, in plain JSON (scopes as written). Notifications only show what this policy may read,
 * however the subscription was written; the creator's later loss of a token does not widen it.
 */
export interface StoredOwner {
  clientId: string;
  userId?: string;
  role?: AccessPolicy['role'];
  fhirUser?: string;
  patient?: string;
  admin: boolean;
  scopes: string[];
}

export function ownerOf(policy: AccessPolicy): StoredOwner {
  return {
    clientId: policy.clientId,
    userId: policy.userId,
    role: policy.role,
    fhirUser: policy.fhirUser,
    patient: policy.patient,
    admin: policy.admin,
    scopes: policy.scopes.map((scope) => scope.text),
  };
}

/** The policy back from storage; a scope that no longer parses grants nothing (fail closed). */
export function policyOf(owner: StoredOwner): AccessPolicy {
  return {
    clientId: owner.clientId,
    userId: owner.userId,
    role: owner.role,
    fhirUser: owner.fhirUser,
    patient: owner.patient,
    admin: owner.admin,
    scopes: owner.scopes.map((text) => parseResourceScope(text, isResourceType)).filter((s): s is ResourceScope => s !== undefined),
  };
}

/**
 * Whether `policy` may receive a subscription's notifications (bind a websocket, get a binding
 * token, replay events): they show what the creator may read, so they go to the creator (the same
 * client and user) or to an administrator, not to everyone who may read the Subscription resource.
 */
export function mayReceive(policy: AccessPolicy, owner: StoredOwner | null | undefined): boolean {
  if (policy.admin || !owner) return true;
  return policy.clientId === owner.clientId && policy.userId === owner.userId;
}
