import { randomUUID } from 'node:crypto';
import type { Appointment, AppointmentParticipant, OperationOutcome, Schedule, Slot } from '@medplum/fhirtypes';
import { errors } from '../../../errors.js';
import { bundleJson, entryJson } from '../../../fhir/bundle.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../../../fhir/types.js';
import { parseCount } from '../../../search/index.js';
import { grantingScopes } from '../../../smart-auth/index.js';
import { localReference, referenceText } from '../references.js';
import { actingPatient } from '../requester.js';
import { OperationInput } from '../../../fhir/operations/parameters.js';
import { dateTimeValue } from './input.js';

/**
 * Finding availability needs some access to Appointments (what a patient app or a front desk
 * has), not to Slots and Schedules: those are not in the patient's compartment, so a patient's
 * token could never search them. `$find` therefore reads the free slots as the server and answers
 * with proposed Appointments, which carry no more than when, with whom, and which slot.
 */
function requireAppointmentAccess(context: InteractionContext): void {
  const granted = (['c', 'r', 's', 'u'] as const).some((p) => grantingScopes(context.access, 'Appointment', p).length > 0);
  if (!granted) throw errors.forbidden('Finding appointments needs an access token with a scope on Appointment');
}

function references(input: OperationInput, names: string[], type: string, baseUrl: string): string[] {
  return names.flatMap((name) =>
    input.values(name).map((value) => {
      const ref = localReference(value, baseUrl);
      if (ref?.resourceType !== type) throw errors.badRequest(`Parameter "${name}" must reference a ${type} on this server, not "${value}"`);
      return referenceText(ref);
    }),
  );
}

/** The patient the appointments are for: the token's own patient for a patient, else the one asked for (if any). */
function patientFor(context: InteractionContext, input: OperationInput): string | undefined {
  const asked = references(input, ['patient-reference', 'patient'], 'Patient', context.baseUrl);
  if (new Set(asked).size > 1) throw errors.badRequest('Give one patient: group appointments are not offered');
  const acting = actingPatient(context.access, 'Appointment', 'c') ?? actingPatient(context.access, 'Appointment', 's');
  if (!acting) return asked[0];
  if (asked.length && asked[0] !== `Patient/${acting}`) throw errors.forbidden(`A patient may look for appointments only for themselves, not for ${asked[0]}`);
  return `Patient/${acting}`;
}

/** IHE parameters this server takes but does not narrow by; a warning in the Bundle says so. */
const UNUSED_PARAMETERS = ['organization', 'location-string', 'reason', 'referral-identifier', 'timing', 'insurance-reference', 'patient-resource'];

function ignoredWarning(input: OperationInput): string | undefined {
  const ignored = UNUSED_PARAMETERS.filter((name) => input.values(name).length > 0 || input.parameters(name).length > 0);
  if (!ignored.length) return undefined;
  const outcome: OperationOutcome = {
    resourceType: 'OperationOutcome',
    issue: ignored.map((name) => ({ severity: 'warning', code: 'not-supported', diagnostics: `Parameter "${name}" is not used to narrow the search on this server; it was ignored` })),
  };
  return entryJson({ resource: outcome, search: { mode: 'outcome' } });
}

function proposal(slot: Slot, schedule: Schedule | undefined, patient: string | undefined): Appointment {
  const participant: AppointmentParticipant[] = [];
  if (patient) participant.push({ actor: { reference: patient }, required: 'required', status: 'needs-action' });
  for (const actor of schedule?.actor ?? []) participant.push({ actor, required: 'required', status: 'needs-action' });
  const serviceType = slot.serviceType ?? schedule?.serviceType;
  const specialty = slot.specialty ?? schedule?.specialty;
  return {
    resourceType: 'Appointment',
    status: 'proposed',
    ...(slot.serviceCategory ? { serviceCategory: slot.serviceCategory } : {}),
    ...(serviceType ? { serviceType } : {}),
    ...(specialty ? { specialty } : {}),
    ...(slot.appointmentType ? { appointmentType: slot.appointmentType } : {}),
    start: slot.start,
    end: slot.end,
    slot: [{ reference: `Slot/${slot.id}` }],
    participant,
  };
}

/**
 * `Appointment/$find` (IHE ITI-115): proposed Appointments, one per free slot that starts within
 * [start, end) and not in the past, of the schedules of the given practitioners and locations,
 * with the given specialties and visit types (`service-type` of the slot), soonest first, at most
 * `_count` (default 20), in a searchset Bundle whose `total` counts every match. Only `free`
 * slots are offered: held (busy-tentative), booked (busy) and blocked slots never are.
 */
export async function findOperation(request: FhirRequest, context: InteractionContext): Promise<FhirResponse> {
  requireAppointmentAccess(context);
  const input = new OperationInput(request);
  const start = dateTimeValue('start', input.required('start'));
  const end = dateTimeValue('end', input.required('end'));
  if (end <= start) throw errors.badRequest('Parameter "end" must be after "start"');
  const patient = patientFor(context, input);
  const count = parseCount(input.value('_count') ?? null, 20, 1000);

  const criteria: [string, string][] = [
    ['status', 'free'],
    ['start', `ge${new Date(Math.max(start, Date.now())).toISOString()}`],
    ['start', `lt${new Date(end).toISOString()}`],
  ];
  const practitioners = references(input, ['practitioner'], 'Practitioner', context.baseUrl);
  const locations = references(input, ['location-reference', 'location'], 'Location', context.baseUrl);
  if (practitioners.length) criteria.push(['schedule.actor', practitioners.join(',')]);
  if (locations.length) criteria.push(['schedule.actor', locations.join(',')]);
  const specialties = input.values('specialty');
  if (specialties.length) criteria.push(['specialty', specialties.join(',')]);
  const visitTypes = input.values('visit-type');
  if (visitTypes.length) criteria.push(['service-type', visitTypes.join(',')]);

  const params = new URLSearchParams([...criteria, ['_sort', 'start'], ['_include', 'Slot:schedule'], ['_count', String(count)]]);
  const page = await context.search.search(context.tx ?? context.store.db, { types: ['Slot'], params, strict: true });
  const schedules = new Map<string, Schedule>();
  for (const included of page.included) {
    if (included.resourceType === 'Schedule' && included.json) schedules.set(included.id, JSON.parse(included.json) as Schedule);
  }
  const entries = page.matches.map((match) => {
    const slot = JSON.parse(match.json as string) as Slot;
    const schedule = schedules.get(localReference(slot.schedule, context.baseUrl)?.id ?? '');
    return entryJson({ fullUrl: `urn:uuid:${randomUUID()}`, resource: proposal(slot, schedule, patient), search: { mode: 'match' } });
  });
  const warning = ignoredWarning(input);
  return { status: 200, json: bundleJson({ type: 'searchset', total: page.total }, warning ? [...entries, warning] : entries) };
}
