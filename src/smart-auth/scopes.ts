/**
 * SMART scopes (hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html), v2 and v1 syntax:
 * `patient/Observation.rs`, `user/*.cruds`, `system/Patient.read`, `patient/Observation.rs?category=laboratory`.
 * A scope that does not parse grants nothing (fail closed).
 */
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';
export type ScopeContext = 'patient' | 'user' | 'system';

export interface ResourceScope {
  context: ScopeContext;
  /** A resource type, or `*`. */
  resourceType: string;
  permissions: Set<Permission>;
  /** v2 query narrowing (`?category=laboratory`): the resources must also match this search. */
  query?: URLSearchParams;
  /** The scope as written. */
  text: string;
}

const V2_ORDER: Permission[] = ['c', 'r', 'u', 'd', 's'];
const V1: Record<string, Permission[]> = { read: ['r', 's'], write: ['c', 'u', 'd'], '*': ['c', 'r', 'u', 'd', 's'] };
const SCOPE = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]+)\.([a-z*]+)(?:\?(.+))?$/;

/** v2 permissions must be a non-empty subsequence of `cruds`, in that order. */
function v2Permissions(text: string): Permission[] | undefined {
  let position = 0;
  const permissions: Permission[] = [];
  for (const char of text) {
    const index = V2_ORDER.indexOf(char as Permission, position);
    if (index < 0) return undefined;
    permissions.push(char as Permission);
    position = index + 1;
  }
  return permissions.length ? permissions : undefined;
}

export function parseResourceScope(text: string, isResourceType: (type: string) => boolean): ResourceScope | undefined {
  const match = SCOPE.exec(text);
  if (!match) return undefined;
  const [, context, resourceType, action, query] = match;
  if (resourceType !== '*' && !isResourceType(resourceType)) return undefined;
  const permissions = V1[action] ?? v2Permissions(action);
  if (!permissions) return undefined;
  // v1 syntax has no query suffix.
  if (query && V1[action]) return undefined;
  return { context: context as ScopeContext, resourceType, permissions: new Set(permissions), query: query ? new URLSearchParams(query) : undefined, text };
}

/**
 * Whether the scopes ask for the user's identity as a FHIR resource: `openid fhirUser` (SMART v2) or
 * `openid profile` (v1). Then the id_token carries `fhirUser`, and the user may read that resource.
 */
export function grantsFhirUser(scopes: string[]): boolean {
  return scopes.includes('openid') && (scopes.includes('fhirUser') || scopes.includes('profile'));
}

/** Splits a `scope` parameter (space separated), dropping duplicates. */
export function splitScopes(scope: string | undefined): string[] {
  return [...new Set((scope ?? '').split(/\s+/).filter(Boolean))];
}

/**
 * Whether `granted` covers `requested`: the same context, a wildcard or the same type, every
 * requested permission, and a query at least as narrow (a granted query must be repeated in the request).
 */
export function scopeCovers(granted: ResourceScope, requested: ResourceScope): boolean {
  if (granted.context !== requested.context) return false;
  if (granted.resourceType !== '*' && granted.resourceType !== requested.resourceType) return false;
  for (const permission of requested.permissions) if (!granted.permissions.has(permission)) return false;
  if (!granted.query) return true;
  if (!requested.query) return false;
  for (const [name, value] of granted.query) if (!requested.query.getAll(name).includes(value)) return false;
  return true;
}
