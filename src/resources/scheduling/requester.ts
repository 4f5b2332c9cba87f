import type { PractitionerRole, Reference, Schedule } from '@medplum/fhirtypes';
import { grantingScopes, type AccessPolicy, type Permission } from '../../smart-auth/index.js';
import type { Queryable } from '../../store/index.js';
import { readResource, type SchedulingDeps } from './context.js';
import { localReference, referenceText } from './references.js';

/**
 * The patient a requester acts for, when every scope that grants it `permission` on `type` is a
 * `patient/` scope: then it may touch only that patient's appointments, as that patient.
 * Undefined for practitioners, backend services and admins (their reach is their scopes').
 */
export function actingPatient(access: AccessPolicy | undefined, type: string, permission: Permission): string | undefined {
  if (!access) return undefined;
  const scopes = grantingScopes(access, type, permission);
  if (access.role === 'patient') return access.patient;
  if (scopes.length > 0 && scopes.every((scope) => scope.context === 'patient')) return access.patient;
  return undefined;
}

/** A reference and, for a PractitionerRole, the Practitioner it is a role of: who a schedule or a user is. */
async function identities(deps: SchedulingDeps, tx: Queryable, references: (Reference | string | undefined)[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (const reference of references) {
    const ref = localReference(reference, deps.baseUrl);
    if (!ref) continue;
    found.add(referenceText(ref));
    if (ref.resourceType === 'PractitionerRole') {
      const role = await readResource<PractitionerRole>(deps, tx, 'PractitionerRole', ref.id);
      const practitioner = localReference(role?.practitioner, deps.baseUrl);
      if (practitioner) found.add(referenceText(practitioner));
    }
  }
  return found;
}

/**
 * Whether the requester may change this schedule's availability (the Schedule, its Slots):
 * admins, and the practitioner whose `fhirUser` is one of the schedule's actors (or the
 * Practitioner of an actor PractitionerRole, or a PractitionerRole of the actor Practitioner).
 * Patients publish no availability, not even on a Schedule that names them.
 */
export async function mayManageSchedule(deps: SchedulingDeps, tx: Queryable, access: AccessPolicy, schedule: Schedule): Promise<boolean> {
  if (access.admin) return true;
  if (!access.fhirUser || access.role === 'patient' || actingPatient(access, 'Schedule', 'u')) return false;
  const user = await identities(deps, tx, [access.fhirUser]);
  const owners = await identities(deps, tx, schedule.actor ?? []);
  for (const identity of user) if (owners.has(identity)) return true;
  return false;
}
