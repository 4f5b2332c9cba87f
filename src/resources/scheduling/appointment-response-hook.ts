import type { Appointment, AppointmentParticipant, AppointmentResponse } from '@medplum/fhirtypes';
import { errors } from '../../errors.js';
import type { WriteHook } from '../../store/index.js';
import { readResource, type SchedulingDeps } from './context.js';
import { localReference, referenceText, type LocalReference } from './references.js';
import { actingPatient } from './requester.js';

interface Target {
  appointment: LocalReference;
  actor: string;
}

function targetOf(response: AppointmentResponse, baseUrl: string): Target {
  const appointment = localReference(response.appointment, baseUrl);
  if (appointment?.resourceType !== 'Appointment') {
    throw errors.businessRule('AppointmentResponse.appointment must reference an Appointment on this server', 'AppointmentResponse.appointment');
  }
  const actor = localReference(response.actor, baseUrl);
  if (!actor) throw errors.businessRule('AppointmentResponse.actor is required: the participant who responds', 'AppointmentResponse.actor');
  return { appointment, actor: referenceText(actor) };
}

function isActor(participant: AppointmentParticipant, actor: string, baseUrl: string): boolean {
  const ref = localReference(participant.actor, baseUrl);
  return ref !== undefined && referenceText(ref) === actor;
}

/**
 * The appointment after a participant's answer: that participant's status is the answer, and a
 * proposed or pending appointment (with its time) whose required participants have all accepted
 * is booked. A decline is recorded and leaves the status to the people who run the schedule.
 */
export function applyResponse(appointment: Appointment, actor: string, answer: AppointmentResponse['participantStatus'], baseUrl: string): Appointment {
  const participant = (appointment.participant ?? []).map((p) => (isActor(p, actor, baseUrl) ? { ...p, status: answer } : p));
  const required = participant.filter((p) => p.required !== 'optional' && p.required !== 'information-only');
  const allAccepted = required.length > 0 && required.every((p) => p.status === 'accepted');
  const promote = answer === 'accepted' && allAccepted && (appointment.status === 'proposed' || appointment.status === 'pending');
  return { ...appointment, participant, status: promote && appointment.start && appointment.end ? 'booked' : appointment.status };
}

/**
 * AppointmentResponse: the responder must be a participant of the appointment (a patient answers
 * only for themselves); its answer is then written onto the Appointment, as the server, in the same
 * transaction and through the same write path (so a promotion to booked takes the slots, or fails
 * with 409 if they are gone).
 */
export function appointmentResponseHook(deps: SchedulingDeps): WriteHook {
  return {
    name: 'appointment-response',
    beforeWrite: async (tx, change) => {
      if (change.resourceType !== 'AppointmentResponse' || !change.resource) return;
      const target = targetOf(change.resource as AppointmentResponse, deps.baseUrl);
      const patient = actingPatient(change.access, 'AppointmentResponse', change.previous ? 'u' : 'c');
      if (patient && target.actor !== `Patient/${patient}`) {
        throw errors.forbidden(`A patient may answer only for themselves; ${target.actor} is not the patient of this access token`);
      }
      const appointment = await readResource<Appointment>(deps, tx, 'Appointment', target.appointment.id);
      if (!appointment?.participant?.some((p) => isActor(p, target.actor, deps.baseUrl))) {
        throw errors.businessRule(`${target.actor} is not a participant of ${referenceText(target.appointment)}`, 'AppointmentResponse.actor');
      }
    },
    afterWrite: async (tx, change) => {
      if (change.resourceType !== 'AppointmentResponse' || !change.resource) return;
      const response = change.resource as AppointmentResponse;
      const target = targetOf(response, deps.baseUrl);
      const id = target.appointment.id;
      await deps.store.lock(tx, 'Appointment', id);
      const current = await readResource<Appointment>(deps, tx, 'Appointment', id);
      if (!current) return;
      const answered = applyResponse(current, target.actor, response.participantStatus, deps.baseUrl);
      if (JSON.stringify(answered.participant) === JSON.stringify(current.participant) && answered.status === current.status) return;
      await deps.store.write({ operation: 'update', resourceType: 'Appointment', id, next: () => answered }, tx);
    },
  };
}
