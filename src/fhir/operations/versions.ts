import type { Parameters } from '@medplum/fhirtypes';
import { FHIR_VERSION } from '../content-negotiation.js';
import type { FhirResponse } from '../types.js';

/**
 * `$versions` (CapabilityStatement-versions): the FHIR versions served at this base, for clients
 * that would pick one with the `fhirVersion` media type parameter. One: R4.
 */
export async function versionsOperation(): Promise<FhirResponse> {
  const body: Parameters = {
    resourceType: 'Parameters',
    parameter: [
      { name: 'version', valueCode: FHIR_VERSION },
      { name: 'default', valueCode: FHIR_VERSION },
    ],
  };
  return { status: 200, body };
}
