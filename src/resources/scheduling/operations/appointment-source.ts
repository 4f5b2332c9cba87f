import type { Appointment, Slot } from '@medplum/fhirtypes';
import { errors } from '../../../errors.js';
import { requirePermission, requireVisible } from '../../../fhir/access-checks.js';
import { bundleJson, entryJson } from '../../../fhir/bundle.js';
import { versionedUrl } from '../../../fhir/response.js';
import type { FhirResponse, InteractionContext } from '../../../fhir/types.js';
import { write } from '../../../fhir/write.js';
import { newResourceId, type Queryable, type WriteResult } from '../../../store/index.js';
import { localReference } from '../references.js';
import { slotIds } from '../slots.js';
import type { OperationInput } from '../../../fhir/operations/parameters.js';

/** The appointment `$hold` and `$book` work on: a stored one (`appointment-reference`, or a resource with an id), or a new one. */
export interface AppointmentSource {
  id?: string;
  resource?: Appointment;
}

export function appointmentSource(input: OperationInput, baseUrl: string): AppointmentSource {
  const resource = input.resource('appointment-resource');
  const reference = input.value('appointment-reference');
  if (resource && reference) throw errors.badRequest('Give either "appointment-reference" or "appointment-resource", not both');
  if (reference) {
    const ref = localReference(reference, baseUrl);
    if (ref?.resourceType !== 'Appointment') throw errors.badRequest(`"appointment-reference" must reference an Appointment on this server, not "${reference}"`);
    return { id: ref.id };
  }
  if (!resource) throw errors.badRequest('The operation needs "appointment-reference" (a stored Appointment) or "appointment-resource" (an Appointment, e.g. one proposed by $find)');
  if (resource.resourceType !== 'Appointment') throw errors.badRequest('"appointment-resource" must be an Appointment');
  return { id: resource.id, resource: resource as Appointment };
}

/** An appointment without its times takes them from its slots (the first start, the last end). */
export async function withSlotTimes(context: InteractionContext, tx: Queryable, appointment: Appointment): Promise<Appointment> {
  if (appointment.start && appointment.end) return appointment;
  const ids = slotIds(appointment, context.baseUrl);
  if (!ids.length) return appointment;
  const slots = (await context.store.readMany(ids.map((id) => ({ resourceType: 'Slot', id })), tx)).map((v) => JSON.parse(v.json as string) as Slot);
  if (slots.length !== new Set(ids).size) return appointment; // the booking rules name the missing slot
  const starts = slots.map((s) => Date.parse(s.start));
  const ends = slots.map((s) => Date.parse(s.end));
  return { ...appointment, start: new Date(Math.min(...starts)).toISOString(), end: new Date(Math.max(...ends)).toISOString() };
}

/**
 * Writes the operation's appointment, as the requester, on the write path: creates a new one, or
 * changes a stored one (404 if missing or out of the requester's reach, checked before anything
 * about it is told). `change` computes the content from the stored version, under its lock.
 */
export async function writeAppointment(
  context: InteractionContext,
  id: string | undefined,
  change: (current: Appointment | undefined) => Appointment | Promise<Appointment>,
): Promise<WriteResult> {
  if (!id) {
    const newId = newResourceId();
    const content = await change(undefined);
    return write(context, { operation: 'create', resourceType: 'Appointment', id: newId, freshId: true, next: () => ({ ...content, id: newId }) });
  }
  requirePermission(context, 'Appointment', 'u');
  await requireVisible(context, 'Appointment', id, 'u');
  return write(context, {
    operation: 'update',
    resourceType: 'Appointment',
    id,
    next: async (current) => {
      if (!current) throw errors.notFound('Appointment', id);
      return { ...(await change(current as Appointment)), id };
    },
  });
}

/** The IHE answer: a searchset Bundle with the one appointment (201 with its Location when it was created). */
export function appointmentBundle(context: InteractionContext, result: Pick<WriteResult, 'outcome' | 'id' | 'versionId' | 'resource'>, headers: Record<string, string> = {}): FhirResponse {
  const entry = entryJson({ fullUrl: `${context.baseUrl}/Appointment/${result.id}`, resource: result.resource, search: { mode: 'match' } });
  const created = result.outcome === 'created';
  return {
    status: created ? 201 : 200,
    headers: { ...headers, ...(created ? { location: versionedUrl(context.baseUrl, 'Appointment', result.id, result.versionId) } : {}) },
    json: bundleJson({ type: 'searchset', total: 1 }, [entry]),
  };
}
