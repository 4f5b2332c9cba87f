import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appointmentRow,
  create,
  createSlot,
  expectOperationOutcome,
  freshDay,
  holdRow,
  issueExpressions,
  issueText,
  parameters,
  plus,
  request,
  slotRow,
  startClinic,
  type Clinic,
} from './support.js';

/** AppointmentResponse: a participant's answer lands on the Appointment and can complete the booking. */
describe('AppointmentResponse', () => {
  let clinic: Clinic;

  beforeAll(async () => {
    clinic = await startClinic();
  });

  afterAll(async () => {
    await clinic.server.close();
  });

  /** A proposed appointment on a free slot, nobody has answered yet. */
  async function proposed(status = 'proposed'): Promise<{ slot: string; appointment: string }> {
    const start = `${freshDay()}T09:00:00Z`;
    const slot = await createSlot(clinic, start);
    const appointment = await create(clinic.server, {
      resourceType: 'Appointment',
      status,
      start,
      end: plus(start, 30),
      slot: [{ reference: `Slot/${slot}` }],
      participant: [
        { actor: { reference: `Patient/${clinic.patient}` }, required: 'required', status: 'needs-action' },
        { actor: { reference: `Practitioner/${clinic.practitioner}` }, required: 'required', status: 'needs-action' },
        { actor: { reference: `Practitioner/${clinic.otherPractitioner}` }, required: 'optional', status: 'needs-action' },
      ],
    });
    return { slot, appointment };
  }

  const respond = (appointment: string, actor: string, participantStatus: string, token?: string) =>
    request(
      clinic.server,
      'POST',
      'AppointmentResponse',
      { resourceType: 'AppointmentResponse', appointment: { reference: `Appointment/${appointment}` }, actor: { reference: actor }, participantStatus },
      token,
    );
  const participantStatuses = async (appointment: string) =>
    ((await appointmentRow(clinic.server, appointment)).content.participant as { status: string }[]).map((p) => p.status);

  describe('refusals', () => {
    it('refuses a responder who is not a participant, a missing actor, a foreign appointment (422)', async () => {
      const { appointment } = await proposed();
      const stranger = await create(clinic.server, { resourceType: 'Patient', name: [{ family: 'Stranger' }] });
      const notParticipant = await respond(appointment, `Patient/${stranger}`, 'accepted');
      expectOperationOutcome(notParticipant, 422);
      expect(issueText(notParticipant)).toContain(`Patient/${stranger} is not a participant of Appointment/${appointment}`);
      expect(issueExpressions(notParticipant)).toEqual(['AppointmentResponse.actor']);

      const missingActor = await request(clinic.server, 'POST', 'AppointmentResponse', {
        resourceType: 'AppointmentResponse',
        appointment: { reference: `Appointment/${appointment}` },
        participantType: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'ATND' }] }],
        participantStatus: 'accepted',
      });
      expectOperationOutcome(missingActor, 422);
      expect(issueExpressions(missingActor)).toEqual(['AppointmentResponse.actor']);

      const foreign = await request(clinic.server, 'POST', 'AppointmentResponse', {
        resourceType: 'AppointmentResponse',
        appointment: { reference: 'http://elsewhere.example/fhir/Appointment/1' },
        actor: { reference: `Patient/${clinic.patient}` },
        participantStatus: 'accepted',
      });
      expectOperationOutcome(foreign, 422);
      expect(await participantStatuses(appointment)).toEqual(['needs-action', 'needs-action', 'needs-action']);
    });

    it('lets a patient answer only for themselves (403)', async () => {
      const { appointment } = await proposed();
      const response = await respond(appointment, `Practitioner/${clinic.practitioner}`, 'accepted', clinic.patientToken);
      expectOperationOutcome(response, 403);
      expect(issueText(response)).toContain('A patient may answer only for themselves');
      expect(await participantStatuses(appointment)).toEqual(['needs-action', 'needs-action', 'needs-action']);
    });

    it('fails the answer with 409 when accepting would book a slot that is gone, and stores nothing', async () => {
      const { slot, appointment } = await proposed();
      await respond(appointment, `Patient/${clinic.patient}`, 'accepted', clinic.patientToken);
      // Someone else books the slot meanwhile.
      const other = await create(clinic.server, {
        resourceType: 'Appointment',
        status: 'booked',
        start: (await appointmentRow(clinic.server, appointment)).content.start as string,
        end: (await appointmentRow(clinic.server, appointment)).content.end as string,
        slot: [{ reference: `Slot/${slot}` }],
        participant: [{ actor: { reference: `Patient/${clinic.otherPatient}` }, status: 'accepted' }],
      });
      const response = await respond(appointment, `Practitioner/${clinic.practitioner}`, 'accepted');
      expectOperationOutcome(response, 409);
      expect(issueText(response)).toContain(`Slot/${slot} is already taken`);
      expect((await appointmentRow(clinic.server, appointment)).status).toBe('proposed');
      const stored = await request(clinic.server, 'GET', `AppointmentResponse?appointment=Appointment/${appointment}&actor=Practitioner/${clinic.practitioner}`);
      expect(stored.body.total).toBe(0);
      expect((await appointmentRow(clinic.server, other)).status).toBe('booked');
    });
  });

  it('records each answer on the participant; when all required participants accepted, the appointment is booked', async () => {
    const { slot, appointment } = await proposed();
    const patientAnswer = await respond(appointment, `Patient/${clinic.patient}`, 'accepted', clinic.patientToken);
    expect(patientAnswer.status, patientAnswer.text).toBe(201);
    expect(await appointmentRow(clinic.server, appointment)).toMatchObject({ status: 'proposed', version: 2 });
    expect(await participantStatuses(appointment)).toEqual(['accepted', 'needs-action', 'needs-action']);
    expect((await slotRow(clinic.server, slot)).status).toBe('free');

    // The optional participant's answer is not waited for.
    const doctorAnswer = await respond(appointment, `Practitioner/${clinic.practitioner}`, 'accepted', clinic.ownerToken);
    expect(doctorAnswer.status, doctorAnswer.text).toBe(201);
    expect(await appointmentRow(clinic.server, appointment)).toMatchObject({ status: 'booked', version: 3 });
    expect(await participantStatuses(appointment)).toEqual(['accepted', 'accepted', 'needs-action']);
    expect(await slotRow(clinic.server, slot)).toEqual({ status: 'busy', version: 2 });
  });

  it('records a decline or a tentative answer without changing the status', async () => {
    const { appointment } = await proposed();
    expect((await respond(appointment, `Patient/${clinic.patient}`, 'tentative', clinic.patientToken)).status).toBe(201);
    expect((await respond(appointment, `Practitioner/${clinic.practitioner}`, 'declined')).status).toBe(201);
    expect(await appointmentRow(clinic.server, appointment)).toMatchObject({ status: 'proposed', version: 3 });
    expect(await participantStatuses(appointment)).toEqual(['tentative', 'declined', 'needs-action']);
  });

  it('books a held (pending) appointment once everyone accepted, ending the hold', async () => {
    const start = `${freshDay()}T09:00:00Z`;
    const slot = await createSlot(clinic, start);
    const held = await request(
      clinic.server,
      'POST',
      'Appointment/$hold',
      parameters({
        name: 'appointment-resource',
        resource: {
          resourceType: 'Appointment',
          status: 'proposed',
          start,
          end: plus(start, 30),
          slot: [{ reference: `Slot/${slot}` }],
          participant: [
            { actor: { reference: `Patient/${clinic.patient}` }, status: 'accepted' },
            { actor: { reference: `Practitioner/${clinic.practitioner}` }, status: 'needs-action' },
          ],
        },
      }),
    );
    expect(held.status, held.text).toBe(201);
    const appointment = held.body.entry[0].resource.id;
    expect((await slotRow(clinic.server, slot)).status).toBe('busy-tentative');
    expect((await respond(appointment, `Practitioner/${clinic.practitioner}`, 'accepted')).status).toBe(201);
    expect((await appointmentRow(clinic.server, appointment)).status).toBe('booked');
    expect((await slotRow(clinic.server, slot)).status).toBe('busy');
    expect(await holdRow(clinic.server, appointment)).toBeUndefined();
  });
});
