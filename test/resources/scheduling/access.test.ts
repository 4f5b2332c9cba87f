import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appointmentFor,
  appointmentRow,
  create,
  createSlot,
  entries,
  expectOperationOutcome,
  freshDay,
  issueText,
  parameters,
  plus,
  request,
  slotRow,
  startClinic,
  type Clinic,
} from './support.js';

/** Who may do what: patients book their own, practitioners for their patients, owners publish availability. */
describe('who may book and who may change availability', () => {
  let clinic: Clinic;

  beforeAll(async () => {
    clinic = await startClinic();
  });

  afterAll(async () => {
    await clinic.server.close();
  });

  async function proposalFor(token: string, patient?: string): Promise<{ slot: string; proposal: Record<string, unknown>; start: string }> {
    const start = `${freshDay()}T09:00:00Z`;
    const slot = await createSlot(clinic, start);
    const query = `start=${start}&end=${plus(start, 1)}${patient ? `&patient=Patient/${patient}` : ''}`;
    const found = await request(clinic.server, 'GET', `Appointment/$find?${query}`, undefined, token);
    expect(found.status, found.text).toBe(200);
    return { slot, proposal: entries(found.body)[0], start };
  }

  const book = (resource: unknown, token: string) => request(clinic.server, 'POST', 'Appointment/$book', parameters({ name: 'appointment-resource', resource }), token);

  describe('a patient', () => {
    it('cannot book for another patient, through $book, $hold or REST (403), nor add one to their own booking', async () => {
      const { slot, proposal, start } = await proposalFor(clinic.patientToken);
      const forOther = { ...proposal, participant: [{ actor: { reference: `Patient/${clinic.otherPatient}` }, status: 'needs-action' }] };
      for (const operation of ['$book', '$hold']) {
        const response = await request(clinic.server, 'POST', `Appointment/${operation}`, parameters({ name: 'appointment-resource', resource: forOther }), clinic.patientToken);
        expectOperationOutcome(response, 403);
        expect(issueText(response)).toContain(`Patient/${clinic.otherPatient} is not the patient of this access token`);
      }
      const rest = await request(clinic.server, 'POST', 'Appointment', appointmentFor(clinic, [slot], start, plus(start, 30), 'booked', clinic.otherPatient), clinic.patientToken);
      expectOperationOutcome(rest, 403);
      const group = { ...proposal, participant: [...(proposal.participant as object[]), { actor: { reference: `Patient/${clinic.otherPatient}` }, status: 'needs-action' }] };
      expectOperationOutcome(await book(group, clinic.patientToken), 403);
      expect(await slotRow(clinic.server, slot)).toEqual({ status: 'free', version: 1 });
    });

    it('books, changes and cancels their own appointment', async () => {
      const { slot, proposal } = await proposalFor(clinic.patientToken);
      const booked = await book(proposal, clinic.patientToken);
      expect(booked.status, booked.text).toBe(201);
      const appointment = entries(booked.body)[0];
      expect((await slotRow(clinic.server, slot)).status).toBe('busy');

      const later = await proposalFor(clinic.patientToken);
      const moved = await book({ ...appointment, slot: later.proposal.slot, start: later.proposal.start, end: later.proposal.end }, clinic.patientToken);
      expect(moved.status, moved.text).toBe(200);
      expect((await slotRow(clinic.server, slot)).status).toBe('free');
      expect((await slotRow(clinic.server, later.slot)).status).toBe('busy');

      const current = (await request(clinic.server, 'GET', `Appointment/${appointment.id}`, undefined, clinic.patientToken)).body;
      const cancelled = await request(
        clinic.server,
        'PUT',
        `Appointment/${appointment.id}`,
        { ...current, status: 'cancelled', cancelationReason: { text: 'I am better' } },
        clinic.patientToken,
      );
      expect(cancelled.status, cancelled.text).toBe(200);
      expect((await slotRow(clinic.server, later.slot)).status).toBe('free');
    });

    it('cannot see, change or cancel someone else\'s appointment (404: it does not exist for them)', async () => {
      const { slot, proposal } = await proposalFor(clinic.otherPatientToken);
      const theirs = entries((await book(proposal, clinic.otherPatientToken)).body)[0];
      const cancel = { ...theirs, status: 'cancelled', cancelationReason: { text: 'not mine to cancel' } };
      expectOperationOutcome(await request(clinic.server, 'PUT', `Appointment/${theirs.id}`, cancel, clinic.patientToken), 404);
      expectOperationOutcome(await book(cancel, clinic.patientToken), 404);
      const byReference = await request(
        clinic.server,
        'POST',
        'Appointment/$book',
        parameters({ name: 'appointment-reference', valueReference: { reference: `Appointment/${theirs.id}` } }),
        clinic.patientToken,
      );
      expectOperationOutcome(byReference, 404);
      expectOperationOutcome(await request(clinic.server, 'DELETE', `Appointment/${theirs.id}`, undefined, clinic.patientToken), 404);
      expect(await appointmentRow(clinic.server, theirs.id)).toMatchObject({ status: 'booked', version: 1 });
      expect((await slotRow(clinic.server, slot)).status).toBe('busy');
    });

    it('cannot mark their appointment arrived, fulfilled or noshow (the clinic\'s part)', async () => {
      const { proposal } = await proposalFor(clinic.patientToken);
      const appointment = entries((await book(proposal, clinic.patientToken)).body)[0];
      for (const status of ['arrived', 'checked-in', 'fulfilled', 'noshow']) {
        const response = await request(clinic.server, 'PUT', `Appointment/${appointment.id}`, { ...appointment, status }, clinic.patientToken);
        expectOperationOutcome(response, 403);
        expect(issueText(response)).toContain(`${status} is for the clinic`);
      }
    });

    it('cannot change availability: Slots and Schedules are refused', async () => {
      const slot = await request(
        clinic.server,
        'POST',
        'Slot',
        { resourceType: 'Slot', schedule: { reference: `Schedule/${clinic.schedule}` }, status: 'free', start: '2031-05-01T09:00:00Z', end: '2031-05-01T09:30:00Z' },
        clinic.patientToken,
      );
      expectOperationOutcome(slot, 403);
      const schedule = await request(clinic.server, 'POST', 'Schedule', { resourceType: 'Schedule', actor: [{ reference: `Patient/${clinic.patient}` }] }, clinic.patientToken);
      expectOperationOutcome(schedule, 403);
    });
  });

  describe('a practitioner', () => {
    it('books for any patient in their scope, and cancels', async () => {
      const { slot, proposal } = await proposalFor(clinic.colleagueToken, clinic.otherPatient);
      const booked = await book(proposal, clinic.colleagueToken);
      expect(booked.status, booked.text).toBe(201);
      const appointment = entries(booked.body)[0];
      expect(appointment.participant[0].actor.reference).toBe(`Patient/${clinic.otherPatient}`);
      const cancelled = await book({ ...appointment, status: 'cancelled', cancelationReason: { text: 'Doctor ill' } }, clinic.colleagueToken);
      expect(cancelled.status, cancelled.text).toBe(200);
      expect((await slotRow(clinic.server, slot)).status).toBe('free');
    });

    it('marks arrival and fulfilment', async () => {
      const { proposal } = await proposalFor(clinic.colleagueToken, clinic.patient);
      const appointment = entries((await book(proposal, clinic.colleagueToken)).body)[0];
      for (const status of ['arrived', 'fulfilled']) {
        const current = (await request(clinic.server, 'GET', `Appointment/${appointment.id}`, undefined, clinic.colleagueToken)).body;
        const response = await request(clinic.server, 'PUT', `Appointment/${appointment.id}`, { ...current, status }, clinic.colleagueToken);
        expect(response.status, response.text).toBe(200);
      }
    });

    it('who does not own the schedule cannot change its availability (403); the owner and an admin can', async () => {
      const start = `${freshDay()}T09:00:00Z`;
      const slotBody = { resourceType: 'Slot', schedule: { reference: `Schedule/${clinic.schedule}` }, status: 'free', start, end: plus(start, 30) };
      const refused = await request(clinic.server, 'POST', 'Slot', slotBody, clinic.colleagueToken);
      expectOperationOutcome(refused, 403);
      expect(issueText(refused)).toContain(`Only the owner of Schedule/${clinic.schedule}`);

      const made = await request(clinic.server, 'POST', 'Slot', slotBody, clinic.ownerToken);
      expect(made.status, made.text).toBe(201);
      const slot = made.body;
      expectOperationOutcome(await request(clinic.server, 'PUT', `Slot/${slot.id}`, { ...slot, status: 'busy-unavailable' }, clinic.colleagueToken), 403);
      expectOperationOutcome(await request(clinic.server, 'DELETE', `Slot/${slot.id}`, undefined, clinic.colleagueToken), 403);
      expect(await slotRow(clinic.server, slot.id)).toEqual({ status: 'free', version: 1 });

      const blocked = await request(clinic.server, 'PUT', `Slot/${slot.id}`, { ...slot, status: 'busy-unavailable' }, clinic.ownerToken);
      expect(blocked.status, blocked.text).toBe(200);
      const freedByAdmin = await request(clinic.server, 'PUT', `Slot/${slot.id}`, { ...slot, status: 'free' });
      expect(freedByAdmin.status, freedByAdmin.text).toBe(200);

      // Nor may a slot be moved to, or a schedule be made for, someone else.
      const own = await create(clinic.server, { resourceType: 'Schedule', actor: [{ reference: `Practitioner/${clinic.otherPractitioner}` }] }, clinic.colleagueToken);
      const hijack = await request(clinic.server, 'PUT', `Slot/${slot.id}`, { ...slot, schedule: { reference: `Schedule/${own}` } }, clinic.colleagueToken);
      expectOperationOutcome(hijack, 403);
      const forOwner = await request(clinic.server, 'POST', 'Schedule', { resourceType: 'Schedule', actor: [{ reference: `Practitioner/${clinic.practitioner}` }] }, clinic.colleagueToken);
      expectOperationOutcome(forOwner, 403);
      const schedule = (await request(clinic.server, 'GET', `Schedule/${clinic.schedule}`)).body;
      expectOperationOutcome(await request(clinic.server, 'PUT', `Schedule/${clinic.schedule}`, { ...schedule, active: false }, clinic.colleagueToken), 403);
      expect((await request(clinic.server, 'PUT', `Schedule/${clinic.schedule}`, { ...schedule, comment: 'Mornings only' }, clinic.ownerToken)).status).toBe(200);
    });

    it('launched for one patient (patient/ scopes) books only for that patient, and may mark arrival', async () => {
      const token = await clinic.server.auth.tokens.issue({
        sub: 'desk-launch',
        client_id: 'ehr-app',
        scope: 'patient/Appointment.cruds',
        role: 'practitioner',
        fhirUser: `Practitioner/${clinic.otherPractitioner}`,
        patient: clinic.patient,
      });
      const { proposal } = await proposalFor(token);
      const forOther = { ...proposal, participant: [{ actor: { reference: `Patient/${clinic.otherPatient}` }, status: 'needs-action' }] };
      expectOperationOutcome(await book(forOther, token), 403);
      const booked = await book(proposal, token);
      expect(booked.status, booked.text).toBe(201);
      const appointment = entries(booked.body)[0];
      const arrived = await request(clinic.server, 'PUT', `Appointment/${appointment.id}`, { ...appointment, status: 'arrived' }, token);
      expect(arrived.status, arrived.text).toBe(200);
    });

    it('acting through a PractitionerRole owns the schedules of that role\'s practitioner', async () => {
      const role = await create(clinic.server, { resourceType: 'PractitionerRole', practitioner: { reference: `Practitioner/${clinic.practitioner}` } });
      const token = await clinic.server.auth.tokens.issue({ sub: 'doc-role', client_id: 'ehr', scope: 'user/*.cruds', role: 'practitioner', fhirUser: `PractitionerRole/${role}` });
      const start = `${freshDay()}T09:00:00Z`;
      const made = await request(clinic.server, 'POST', 'Slot', { resourceType: 'Slot', schedule: { reference: `Schedule/${clinic.schedule}` }, status: 'free', start, end: plus(start, 30) }, token);
      expect(made.status, made.text).toBe(201);
    });
  });
});
