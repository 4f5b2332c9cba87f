import { AUDIT_TYPE, grantingScopes, grantsUnconfined, SHARED_READ_PERMISSIONS, sharedResourceTypes, type AccessPolicy, type Permission, type ResourceScope } from '../smart-auth/index.js';
import type { StoredVersion } from '../store/index.js';
import { compartmentCondition } from './compartment.js';
import { splitValues } from './parse.js';
import { criterionCondition } from './sql/builder.js';
import type { BuildContext } from './sql/context.js';
import { and, assemble, FALSE, fragment, or, TRUE, type SqlFragment } from './sql/fragment.js';

/** The scopes of the policy that grant one of `permissions` on one of `types` (all types for a system search). */
function applicableScopes(policy: AccessPolicy, types: string[], permissions: Permission[]): ResourceScope[] {
  const named = new Set(
    (types.length ? types : [...new Set([...policy.scopes.map((s) => s.resourceType), AUDIT_TYPE])]).flatMap((type) =>
      permissions.flatMap((permission) => grantingScopes(policy, type, permission)),
    ),
  );
  return [...named];
}

/**
 * Types R4's Patient compartment leaves out that still belong to one patient, by the parameter that
 * names the patient: a `patient/` scope reaches the launch patient's (US Core reads a patient's
 * implantable devices with patient scopes).
 */
const PATIENT_OWNED_OUTSIDE_COMPARTMENT: [type: string, param: string][] = [['Device', 'patient']];

/** The launch patient's resources: the compartment, and the patient-owned types outside it. */
function launchPatientCondition(patient: string, alias: string): SqlFragment {
  const owned = PATIENT_OWNED_OUTSIDE_COMPARTMENT.map(([type, param]) =>
    fragment(
      `${alias}.resource_type = $? AND EXISTS (SELECT 1 FROM search_reference po
        WHERE po.resource_type = ${alias}.resource_type AND po.id = ${alias}.id AND po.param = $? AND po.target_type = 'Patient' AND po.target_id = $?)`,
      type,
      param,
      patient,
    ),
  );
  return or([compartmentCondition('Patient', patient, alias), ...owned]);
}

/**
 * The types outside the compartment that a `patient/` scope opens for the asked permissions: the
 * shared types it names, when it grants one of the asked permissions that reads (see `sharedResourceTypes`).
 * Never for create, update or delete.
 */
function sharedTypesOpened(scope: ResourceScope, permissions: Permission[]): string[] {
  if (!permissions.some((permission) => scope.permissions.has(permission) && SHARED_READ_PERMISSIONS.has(permission))) return [];
  const shared = sharedResourceTypes();
  if (scope.resourceType === '*') return [...shared];
  return shared.has(scope.resourceType) ? [scope.resourceType] : [];
}

/**
 * What one scope lets through: its type, the launch patient's compartment for `patient/` (for
 * reading and searching, the shared types outside it as well), its query.
 */
async function scopeCondition(context: BuildContext, policy: AccessPolicy, scope: ResourceScope, permissions: Permission[], alias: string): Promise<SqlFragment> {
  const parts: SqlFragment[] = [];
  if (scope.resourceType !== '*') parts.push(fragment(`${alias}.resource_type = $?`, scope.resourceType));
  else parts.push(fragment(`${alias}.resource_type <> $?`, AUDIT_TYPE)); // see AUDIT_TYPE: wildcards do not reach audit records
  if (scope.context === 'patient') {
    if (!policy.patient) return FALSE;
    const shared = sharedTypesOpened(scope, permissions);
    const inCompartment = launchPatientCondition(policy.patient, alias);
    if (shared.length === 0) parts.push(inCompartment);
    // A wildcard: the compartment's types within it, the shared types all of them.
    else if (scope.resourceType === '*') parts.push(or([inCompartment, fragment(`${alias}.resource_type = ANY($?::text[])`, shared)]));
    // A shared type named by the scope: no confinement (its query, if any, still applies below).
  }
  if (scope.query) {
    // A query narrows one type; on `*` it would mean a different search per type: grant nothing.
    if (scope.resourceType === '*') return FALSE;
    for (const [name, value] of scope.query) parts.push(await criterionCondition(context, [scope.resourceType], name, splitValues(value), alias));
  }
  return and(parts);
}

/**
 * The policy as an SQL condition on the resource row `alias`: resources of `types` it lets through
 * with one of `permissions`. Every query, page, include, chain and history goes through this.
 */
export async function accessCondition(
  context: BuildContext,
  policy: AccessPolicy,
  types: string[],
  permissions: Permission[],
  alias: string,
): Promise<SqlFragment> {
  const scopes = applicableScopes(policy, types, permissions);
  if (scopes.length === 0) return FALSE;
  const conditions = await Promise.all(scopes.map((scope) => scopeCondition(context, policy, scope, permissions, alias)));
  return conditions.some((c) => c === TRUE || c.sql === 'TRUE') ? TRUE : or(conditions);
}

/** Whether the policy lets one resource through (reads, and the pre- and post-image of a write). */
export async function isVisible(
  context: BuildContext,
  policy: AccessPolicy,
  type: string,
  id: string,
  permissions: Permission[],
): Promise<boolean> {
  const condition = await accessCondition(context, policy, [type], permissions, 'r');
  const query = assemble(
    fragment(`SELECT EXISTS (SELECT 1 FROM resource r WHERE r.resource_type = $? AND r.id = $? AND (${condition.sql})) AS visible`, type, id, ...condition.values),
  );
  const { rows } = await context.db.query<{ visible: boolean }>(query.sql, query.values);
  return rows[0].visible;
}

/** The resources, among these, that the policy lets through for reading (what `_include` may add). */
export async function visibleOnly(context: BuildContext, policy: AccessPolicy, versions: StoredVersion[]): Promise<StoredVersion[]> {
  const types = new Set(versions.map((v) => v.resourceType));
  if ([...types].every((type) => grantsUnconfined(policy, type, 'r') || grantsUnconfined(policy, type, 's'))) return versions;
  const condition = await accessCondition(context, policy, [], ['r', 's'], 'r');
  const query = assemble(
    fragment(
      `SELECT r.resource_type, r.id FROM unnest($?::text[], $?::text[]) AS k(resource_type, id)
         JOIN resource r ON r.resource_type = k.resource_type AND r.id = k.id WHERE ${condition.sql}`,
      versions.map((v) => v.resourceType),
      versions.map((v) => v.id),
      ...condition.values,
    ),
  );
  const { rows } = await context.db.query<{ resource_type: string; id: string }>(query.sql, query.values);
  const visible = new Set(rows.map((row) => `${row.resource_type}/${row.id}`));
  return versions.filter((v) => visible.has(`${v.resourceType}/${v.id}`));
}
