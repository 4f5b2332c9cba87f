import type { Appointment } from '@medplum/fhirtypes';
import { errors } from '../../../errors.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../../../fhir/types.js';
import { putHold } from '../holds.js';
import { Scheduling } from '../scheduling.js';
import type { AppointmentStatus } from '../statuses.js';
import { appointmentBundle, appointmentSource, withSlotTimes, writeAppointment } from './appointment-source.js';
import { OperationInput } from '../../../fhir/operations/parameters.js';

const HOLDABLE: readonly AppointmentStatus[] = ['proposed', 'waitlist'];

/**
 * `Appointment/$hold` (IHE ITI-116): the appointment becomes `pending` and its slots
 * `busy-tentative` (the booking rules take them, or answer 409 when they are gone), until it is
 * booked or the hold expires (the `Expires` header; the sweeper then cancels it and frees the
 * slots). Takes a proposal from `$find` (`appointment-resource`) or a stored proposed appointment.
 */
export async function holdOperation(request: FhirRequest, context: InteractionContext): Promise<FhirResponse> {
  const { settings } = Scheduling.of(context.store);
  const source = appointmentSource(new OperationInput(request), context.baseUrl);
  return context.store.inTransaction(context.tx, async (tx) => {
    const inTx = { ...context, tx };
    const result = await writeAppointment(inTx, source.id, async (current) => {
      if (current && !HOLDABLE.includes(current.status)) {
        throw errors.businessRule(`Only a proposed or waitlisted appointment can be held; Appointment/${source.id} is ${current.status}`, 'Appointment.status');
      }
      const appointment = (source.resource ?? current) as Appointment;
      if (!appointment.slot?.length) throw errors.businessRule('A hold needs the slots to hold: Appointment.slot', 'Appointment.slot');
      return withSlotTimes(inTx, tx, { ...appointment, status: 'pending' });
    });
    // Whole seconds: the Expires header (an HTTP date) then says exactly when the hold ends.
    const expires = new Date(Math.ceil((Date.now() + settings.holdSeconds * 1000) / 1000) * 1000);
    await putHold(tx, result.id, expires);
    return appointmentBundle(inTx, result, { expires: expires.toUTCString() });
  });
}
