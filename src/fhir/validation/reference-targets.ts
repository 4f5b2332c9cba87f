import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { isResourceType } from '../../definitions/index.js';

const HL7_BASE = 'http://hl7.org/fhir/StructureDefinition/';
const HL7_ANY_RESOURCE = `${HL7_BASE}Resource`;
const MEDPLUM_BASE = 'https://medplum.com/fhir/StructureDefinition/';

/**
 * Medplum's warning for a Reference whose `reference` names a resource type the element does not
 * allow ("Invalid reference: got "Patient", expected ..."), as its validator words it (referenceTypeCheck).
 * Only for a type that exists: Medplum also warns about `urn:uuid:...` or `http:` "types", and the
 * caller drops those warnings (isMeaningfulReferenceWarning), so they are not made at all here.
 */
export function referenceTargetWarning(value: Record<string, unknown>, targetProfiles: readonly string[], at: string): OperationOutcomeIssue | undefined {
  const reference = value.reference;
  if (typeof reference !== 'string' || reference.startsWith('#')) return undefined;
  const type = reference.includes('?') ? reference.split('?')[0] : reference.split('/')[0];
  if (!type || !isResourceType(type)) return undefined;
  for (const profile of targetProfiles) {
    if (profile === HL7_ANY_RESOURCE || profile === HL7_BASE + type || profile === MEDPLUM_BASE + type) return undefined;
    // A profile it cannot judge (US Core, a custom one): Medplum stops checking.
    if (!profile.startsWith(HL7_BASE) && !profile.startsWith(MEDPLUM_BASE)) return undefined;
  }
  const text = `Invalid reference: got "${type}", expected "${targetProfiles.join('", "')}"`;
  return { severity: 'warning', code: 'structure', details: { text }, expression: [at] };
}
