import type { AccessPolicy, StoredPolicy } from '../smart-auth/index.js';

/**
 * Whether `policy` may receive a subscription's notifications (bind a websocket, get a binding
 * token, replay events): they show what the creator may read, so they go to the creator (the same
 * client and user) or to an administrator, not to everyone who may read the Subscription resource.
 */
export function mayReceive(policy: AccessPolicy, owner: StoredPolicy | null | undefined): boolean {
  if (policy.admin || !owner) return true;
  return policy.clientId === owner.clientId && policy.userId === owner.userId;
}
