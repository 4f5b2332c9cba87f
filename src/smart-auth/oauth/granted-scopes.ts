import { isResourceType } from '../../definitions/index.js';
import { FhirError } from '../../errors.js';
import { oauthErrors } from '../auth-errors.js';
import { parseResourceScope, scopeCovers, type ResourceScope } from '../scopes.js';
import type { Role } from '../users.js';

/** The scopes that are not resource scopes, each granted only as itself. `profile` is SMART v1's `fhirUser`. */
export const CONTEXT_SCOPES = ['openid', 'fhirUser', 'profile', 'launch', 'launch/patient', 'launch/encounter', 'offline_access', 'online_access', 'admin'] as const;

export function resourceScope(scope: string): ResourceScope | undefined {
  return parseResourceScope(scope, isResourceType);
}

/** Whether a scope means anything here: a context scope or a resource scope that parses. */
export function isKnownScope(scope: string): boolean {
  return (CONTEXT_SCOPES as readonly string[]).includes(scope) || resourceScope(scope) !== undefined;
}

/** Checks a search's criteria on one type as the search API would (400 `FhirError` when they do not build). */
export type ScopeQueryCheck = (resourceType: string, query: URLSearchParams) => Promise<void>;

/**
 * Refuses (`invalid_scope`) a v2 scope whose query the server cannot search with
 * (`patient/Patient.rs?category=x`: Patient has no `category`): granted, it would make every
 * request on that type fail. A query on every type (`patient/*.rs?…`) is checked when it is used.
 */
export async function refuseUnsearchableScopes(scopes: string[], check: ScopeQueryCheck): Promise<void> {
  for (const scope of scopes) {
    const parsed = resourceScope(scope);
    if (!parsed?.query || parsed.resourceType === '*') continue;
    try {
      await check(parsed.resourceType, parsed.query);
    } catch (error) {
      if (error instanceof FhirError) throw oauthErrors.invalidScope(`${scope}: ${error.message}`);
      throw error;
    }
  }
}

/**
 * The requested scopes that `allowed` does not cover. A context scope must be in `allowed` as
 * itself; a resource scope must be covered by one there (`patient/*.rs` covers
 * `patient/Observation.rs?category=laboratory`, and `patient/Observation.read`).
 */
export function notCoveredBy(allowed: string, requested: string[]): string[] {
  const allowedTexts = new Set(allowed.split(/\s+/).filter(Boolean));
  const allowedResources = [...allowedTexts].map(resourceScope).filter((scope): scope is ResourceScope => scope !== undefined);
  return requested.filter((scope) => {
    if (allowedTexts.has(scope)) return false;
    const parsed = resourceScope(scope);
    return !parsed || !allowedResources.some((granted) => scopeCovers(granted, parsed));
  });
}

/**
 * What a user's role lets them be granted (CONTRACT.md): a patient only `patient/` scopes (a
 * `user/` request becomes the same `patient/` scope: their own record is all they may see), a
 * practitioner `user/` and `patient/` scopes, an admin anything, `admin` included.
 */
export function boundByRole(role: Role, scopes: string[]): string[] {
  if (role === 'admin') return scopes;
  const bounded = scopes.flatMap((scope) => {
    if (scope === 'admin' || scope.startsWith('system/')) return [];
    if (role === 'patient' && scope.startsWith('user/')) return [`patient/${scope.slice('user/'.length)}`];
    return [scope];
  });
  return [...new Set(bounded)];
}

/** `patient/` scopes mean nothing without a patient in context: they are not granted then. */
export function withoutPatientScopes(scopes: string[]): string[] {
  return scopes.filter((scope) => !scope.startsWith('patient/'));
}
