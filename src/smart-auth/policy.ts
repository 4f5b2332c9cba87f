import { compartmentDefinitions, isResourceType, resourceTypes } from '../definitions/index.js';
import type { AccessClaims } from './access-token.js';
import { grantsFhirUser, parseResourceScope, splitScopes, type Permission, type ResourceScope } from './scopes.js';

/**
 * What one request may touch, compiled once from its access token and handed to storage and search
 * as data. Each resource scope grants permissions on a type, confined to the launch patient's
 * compartment (`patient/`; reading and searching the shared types outside it are not, see
 * `sharedResourceTypes`) and to a search (`?category=laboratory`) where the scope says so.
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

/** A scope that confines nothing, whatever the type and permission: a `user/` or `system/` scope without a query. */
export function isUnconfined(scope: ResourceScope): boolean {
  return scope.context !== 'patient' && !scope.query;
}

/**
 * `patient/` scopes on types outside the Patient compartment. The compartment (the R4 Patient
 * CompartmentDefinition) holds a patient's own data; what lies outside it (Practitioner,
 * Organization, Location, Medication, Substance, ValueSet...) is shared by every patient's record,
 * which refers to it. A `patient/` scope on such a type grants reading and searching it without the
 * compartment (what the ONC (g)(10) patient launch asks for, and HAPI and Medplum allow); creating,
 * updating and deleting it stay confined to the compartment, that is, a `patient/` scope never
 * grants them (shared resources are not one patient's to change). A scope's query still applies.
 */
export const SHARED_READ_PERMISSIONS: ReadonlySet<Permission> = new Set<Permission>(['r', 's']);

/**
 * Types outside the R4 Patient compartment that are nevertheless about one patient, or may carry
 * anybody's data, or another client's secrets: a `patient/` scope keeps them confined to the
 * compartment (where they never are, so it grants nothing on them, as before).
 */
const CONFINED_OUTSIDE_COMPARTMENT = new Set([
  'Binary', // a document's content; it belongs to whatever its securityContext says
  'Bundle', // documents and messages hold any patient's resources
  'Contract', // Contract.subject
  'Device', // Device.patient: an implant is one patient's (R4's compartment leaves Device out); confined to it in search/access.ts
  'GuidanceResponse', // GuidanceResponse.subject
  'Linkage', // links the records of one person
  'MessageHeader', // MessageHeader.focus: any resource
  'Slot', // practitioners' calendars: a patient sees free slots only as Appointment/$find proposes them
  'Subscription', // other clients' endpoints and channel headers
]);

let sharedTypes: ReadonlySet<string> | undefined;

/** The types a `patient/` scope may read and search beyond the launch patient's compartment. */
export function sharedResourceTypes(): ReadonlySet<string> {
  if (sharedTypes) return sharedTypes;
  const members = new Set(compartmentDefinitions().get('Patient')?.keys());
  members.add('Patient');
  sharedTypes = new Set(resourceTypes().filter((type) => !members.has(type) && !CONFINED_OUTSIDE_COMPARTMENT.has(type) && type !== AUDIT_TYPE));
  return sharedTypes;
}

/** Whether a `patient/` scope grants `permission` on `type` beyond the compartment: reading and searching a shared type. */
export function isSharedAccess(type: string, permission: Permission): boolean {
  return SHARED_READ_PERMISSIONS.has(permission) && sharedResourceTypes().has(type);
}

/**
 * Whether `scope` leaves every resource of `type` within reach for `permission`: an unconfined
 * scope, or a `patient/` scope without a query on a shared type, for reading and searching.
 */
export function isUnconfinedOn(scope: ResourceScope, type: string, permission: Permission): boolean {
  if (scope.query) return false;
  return scope.context !== 'patient' || isSharedAccess(type, permission);
}

/** Whether the policy grants `permission` on every resource of `type`. */
export function grantsUnconfined(policy: AccessPolicy, type: string, permission: Permission): boolean {
  return grantingScopes(policy, type, permission).some((scope) => isUnconfinedOn(scope, type, permission));
}
