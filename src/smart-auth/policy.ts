import { isResourceType } from '../definitions/index.js';
import type { AccessClaims } from './access-token.js';
import { grantsFhirUser, parseResourceScope, splitScopes, type Permission, type ResourceScope } from './scopes.js';

/**
 * What one request may touch, compiled once from its access token and handed to storage and search
 * as data. Each resource scope grants permissions on a type, confined to the launch patient's
 * compartment (`patient/`) and to a search (`?category=laboratory`) where the scope says so.
 */
export interface AccessPolicy {
  clientId: string;
  /** The user's id, for a user's token. */
  userId?: string;
  role?: AccessClaims['role'];
  fhirUser?: string;
  /** The launch patient: the compartment `patient/` scopes are confined to. */
  patient?: string;
  /** The `admin` scope: user accounts, client registration, `$reindex`. */
  admin: boolean;
  scopes: ResourceScope[];
}

/**
 * Compiles a token's scopes. Fails closed: a scope that does not parse grants nothing; `patient/`
 * scopes without a launch patient grant nothing; a patient account's token is held to `patient/`
 * scopes whatever it says (the grant already was, this is the second line).
 */
export function compilePolicy(claims: AccessClaims): AccessPolicy {
  const scopes = splitScopes(claims.scope)
    .map((text) => parseResourceScope(text, isResourceType))
    .filter((scope): scope is ResourceScope => scope !== undefined)
    .filter((scope) => (scope.context === 'patient' ? Boolean(claims.patient) : true))
    .filter((scope) => (claims.role === 'patient' ? scope.context === 'patient' : true))
    .filter((scope) => (scope.context === 'system' ? claims.role === undefined : true));
  const ownResource = ownResourceScope(claims);
  if (ownResource) scopes.push(ownResource);
  return {
    clientId: claims.client_id,
    userId: claims.role ? claims.sub : undefined,
    role: claims.role,
    fhirUser: claims.fhirUser,
    patient: claims.patient,
    admin: splitScopes(claims.scope).includes('admin') && (claims.role === undefined || claims.role === 'admin'),
    scopes,
  };
}

/**
 * `openid fhirUser` (v1 `openid profile`) is "permission to retrieve information about the current
 * logged-in user" (SMART scopes-and-launch-context.html): the user's own resource (`Practitioner/123`)
 * may be read, that one resource only, whatever the resource scopes say.
 */
function ownResourceScope(claims: AccessClaims): ResourceScope | undefined {
  if (!claims.fhirUser || !grantsFhirUser(splitScopes(claims.scope))) return undefined;
  const [resourceType, id] = claims.fhirUser.split('/');
  return { context: 'user', resourceType, permissions: new Set(['r']), query: new URLSearchParams({ _id: id }), text: 'fhirUser' };
}

/** No token: the public endpoints (the CapabilityStatement). Grants nothing. */
export const ANONYMOUS: AccessPolicy = { clientId: 'anonymous', admin: false, scopes: [] };

/**
 * Audit records are security data: a wildcard (`patient/*.rs`, `user/*.cruds`) does not reach them;
 * a scope must name AuditEvent, or the token be an admin's.
 */
export const AUDIT_TYPE = 'AuditEvent';
const ADMIN_AUDIT_SCOPE: ResourceScope = { context: 'system', resourceType: AUDIT_TYPE, permissions: new Set(['r', 's']), text: 'admin' };

/** Whether a scope names this type (a wildcard names every type but AuditEvent). */
export function scopeNames(scope: ResourceScope, type: string): boolean {
  return scope.resourceType === type || (scope.resourceType === '*' && type !== AUDIT_TYPE);
}

/** The scopes that grant `permission` on `type` (any of them suffices, within its own confinement). */
export function grantingScopes(policy: AccessPolicy, type: string, permission: Permission): ResourceScope[] {
  const scopes = policy.scopes.filter((scope) => scopeNames(scope, type) && scope.permissions.has(permission));
  return type === AUDIT_TYPE && policy.admin && ADMIN_AUDIT_SCOPE.permissions.has(permission) ? [...scopes, ADMIN_AUDIT_SCOPE] : scopes;
}

/** A scope that confines nothing: a `user/` or `system/` scope without a query. */
export function isUnconfined(scope: ResourceScope): boolean {
  return scope.context !== 'patient' && !scope.query;
}

/** Whether the policy grants `permission` on every resource of `type`. */
export function grantsUnconfined(policy: AccessPolicy, type: string, permission: Permission): boolean {
  return grantingScopes(policy, type, permission).some(isUnconfined);
}
