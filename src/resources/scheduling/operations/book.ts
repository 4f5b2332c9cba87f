import type { Appointment } from '@medplum/fhirtypes';
import { errors } from '../../../errors.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../../../fhir/types.js';
import { appointmentBundle, appointmentSource, withSlotTimes, writeAppointment } from './appointment-source.js';
import { OperationInput } from '../../../fhir/operations/parameters.js';

/** Booking confirms the appointment for everyone who had not answered yet; a decline stays a decline. */
function booked(appointment: Appointment): Appointment {
  const participant = appointment.participant?.map((p) => (p.status === 'needs-action' || p.status === 'tentative' ? { ...p, status: 'accepted' as const } : p));
  return { ...appointment, status: 'booked', ...(participant ? { participant } : {}) };
}

/**
 * `Appointment/$book` (IHE ITI-117): books a proposal from `$find` (`appointment-resource`
 * without an id: a new appointment), a held or proposed stored appointment
 * (`appointment-reference`), or changes a booking (`appointment-resource` with the stored id and
 * new slots or times) or cancels it (the same with status `cancelled` and a `cancelationReason`).
 * The booking rules on the write path decide: of concurrent bookings of one slot, one wins and the
 * others get 409. Answers a searchset Bundle with the appointment (201 when created).
 */
export async function bookOperation(request: FhirRequest, context: InteractionContext): Promise<FhirResponse> {
  const source = appointmentSource(new OperationInput(request), context.baseUrl);
  if (!source.id && source.resource?.status === 'cancelled') {
    throw errors.businessRule('Only a stored appointment can be cancelled: give its id', 'Appointment.id');
  }
  return context.store.inTransaction(context.tx, async (tx) => {
    const inTx = { ...context, tx };
    const result = await writeAppointment(inTx, source.id, (current) => {
      const appointment = source.resource ? { ...source.resource } : (current as Appointment);
      if (appointment.status === 'cancelled' && source.resource) return appointment;
      return withSlotTimes(inTx, tx, booked(appointment));
    });
    return appointmentBundle(inTx, result);
  });
}
