import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appointmentFor,
  appointmentRow,
  appointmentsOfSlot,
  countStatuses,
  create,
  createSlot,
  entries,
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

const HOLD_SECONDS = 120;

/** `Appointment/$hold` and `Appointment/$book` (IHE ITI-116, ITI-117). */
describe('Appointment/$hold and Appointment/$book', () => {
  let clinic: Clinic;

  beforeAll(async () => {
    clinic = await startClinic({ APPOINTMENT_HOLD_SECONDS: String(HOLD_SECONDS) });
  });

  afterAll(async () => {
    await clinic.server.close();
  });

  /** A free slot and the proposal $find makes for it. */
  async function proposal(time = '09:00:00'): Promise<{ slot: string; appointment: Record<string, unknown>; start: string }> {
    const start = `${freshDay()}T${time}Z`;
    const slot = await createSlot(clinic, start);
    const found = await request(clinic.server, 'GET', `Appointment/$find?start=${start}&end=${plus(start, 1)}&patient=Patient/${clinic.patient}`);
    expect(found.body.total, found.text).toBe(1);
    return { slot, appointment: entries(found.body)[0], start };
  }

  const hold = (input: Record<string, unknown>, token?: string) => request(clinic.server, 'POST', 'Appointment/$hold', parameters(input), token);
  const book = (input: Record<string, unknown>, token?: string) => request(clinic.server, 'POST', 'Appointment/$book', parameters(input), token);

  describe('refusals', () => {
    it('needs an appointment-reference or an appointment-resource, not both, not neither (400)', async () => {
      for (const operation of ['$hold', '$book']) {
        const none = await request(clinic.server, 'POST', `Appointment/${operation}`, parameters());
        expectOperationOutcome(none, 400);
        expect(issueText(none)).toContain('needs "appointment-reference"');
        const both = await request(
          clinic.server,
          'POST',
          `Appointment/${operation}`,
          parameters({ name: 'appointment-reference', valueReference: { reference: 'Appointment/x' } }, { name: 'appointment-resource', resource: { resourceType: 'Appointment' } }),
        );
        expectOperationOutcome(both, 400);
        const wrongType = await request(clinic.server, 'POST', `Appointment/${operation}`, parameters({ name: 'appointment-resource', resource: { resourceType: 'Patient' } }));
        expectOperationOutcome(wrongType, 400);
        const notParameters = await request(clinic.server, 'POST', `Appointment/${operation}`, { resourceType: 'Appointment', status: 'proposed', participant: [] });
        expectOperationOutcome(notParameters, 400);
        const get = await request(clinic.server, 'GET', `Appointment/${operation}`);
        expect(get.status).toBe(405);
      }
    });

    it('answers 404 for a stored appointment that does not exist', async () => {
      for (const operation of ['$hold', '$book']) {
        const response = await request(clinic.server, 'POST', `Appointment/${operation}`, parameters({ name: 'appointment-reference', valueReference: { reference: 'Appointment/nope' } }));
        expectOperationOutcome(response, 404);
      }
    });

    it('$hold needs slots to hold (422), and only holds proposed or waitlisted appointments (422)', async () => {
      const { appointment } = await proposal();
      const { slot: _slot, ...withoutSlot } = appointment;
      const response = await hold({ name: 'appointment-resource', resource: withoutSlot });
      expectOperationOutcome(response, 422);
      expect(issueExpressions(response)).toEqual(['Appointment.slot']);

      const booked = await book({ name: 'appointment-resource', resource: appointment });
      expect(booked.status, booked.text).toBe(201);
      const id = entries(booked.body)[0].id;
      const again = await hold({ name: 'appointment-reference', valueReference: { reference: `Appointment/${id}` } });
      expectOperationOutcome(again, 422);
      expect(issueText(again)).toContain(`Only a proposed or waitlisted appointment can be held; Appointment/${id} is booked`);
    });

    it('refuses to hold or book a slot someone else holds or booked: 409, slot taken', async () => {
      const { slot, appointment } = await proposal();
      expect((await hold({ name: 'appointment-resource', resource: appointment })).status).toBe(201);
      for (const attempt of [hold, book]) {
        const someoneElse = { ...appointment, participant: [{ actor: { reference: `Patient/${clinic.otherPatient}` }, status: 'needs-action' }] };
        const response = await attempt({ name: 'appointment-resource', resource: someoneElse });
        expectOperationOutcome(response, 409);
        expect(issueText(response)).toContain(`Slot/${slot} is already taken`);
      }
      expect((await appointmentsOfSlot(clinic.server, slot)).map((a) => a.status)).toEqual(['pending']);
    });

    it('$book cannot cancel an appointment that was never stored (422)', async () => {
      const { appointment } = await proposal();
      const response = await book({ name: 'appointment-resource', resource: { ...appointment, status: 'cancelled', cancelationReason: { text: 'x' } } });
      expectOperationOutcome(response, 422);
    });

    it('$book of a hold that has expired is 409 (and the hold is not revived)', async () => {
      const { slot, appointment } = await proposal();
      const held = await hold({ name: 'appointment-resource', resource: appointment });
      const id = entries(held.body)[0].id;
      await clinic.server.db.query(`UPDATE appointment_hold SET expires_at = now() - interval '1 second' WHERE appointment_id = $1`, [id]);
      const response = await book({ name: 'appointment-reference', valueReference: { reference: `Appointment/${id}` } });
      expectOperationOutcome(response, 409);
      expect(issueText(response)).toContain(`The hold on Appointment/${id} expired`);
      expect(await appointmentRow(clinic.server, id)).toMatchObject({ status: 'pending', version: 1 });
      expect((await slotRow(clinic.server, slot)).status).toBe('busy-tentative');
    });
  });

  describe('$hold', () => {
    it('makes a pending appointment, holds its slot busy-tentative, and says until when (Expires)', async () => {
      const { slot, appointment, start } = await proposal();
      const before = Date.now();
      const response = await hold({ name: 'appointment-resource', resource: appointment });
      expect(response.status, response.text).toBe(201);
      expect(response.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 1 });
      const held = entries(response.body)[0];
      expect(held).toMatchObject({ resourceType: 'Appointment', status: 'pending', start, slot: [{ reference: `Slot/${slot}` }] });
      expect(response.body.entry[0].fullUrl).toBe(`http://fhir.test/fhir/Appointment/${held.id}`);
      expect(response.headers.location).toBe(`http://fhir.test/fhir/Appointment/${held.id}/_history/1`);

      const expires = Date.parse(String(response.headers.expires));
      expect(expires).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + HOLD_SECONDS * 1000);
      expect(expires).toBeLessThanOrEqual(Date.now() + HOLD_SECONDS * 1000 + 1000);
      expect((await holdRow(clinic.server, held.id))?.getTime()).toBe(expires);
      expect(await slotRow(clinic.server, slot)).toEqual({ status: 'busy-tentative', version: 2 });
      expect(await appointmentRow(clinic.server, held.id)).toMatchObject({ status: 'pending', version: 1 });
    });

    it('holds a stored proposed appointment by reference (200)', async () => {
      const { slot, appointment } = await proposal();
      const id = await create(clinic.server, appointment as { resourceType: string });
      const response = await hold({ name: 'appointment-reference', valueReference: { reference: `Appointment/${id}` } });
      expect(response.status, response.text).toBe(200);
      expect(response.headers.location).toBeUndefined();
      expect(await appointmentRow(clinic.server, id)).toMatchObject({ status: 'pending', version: 2 });
      expect((await slotRow(clinic.server, slot)).status).toBe('busy-tentative');
      expect(await holdRow(clinic.server, id)).toBeInstanceOf(Date);
    });
  });

  describe('$book', () => {
    it('books a held appointment: booked, participants accepted, slot busy, hold gone', async () => {
      const { slot, appointment } = await proposal();
      const held = entries((await hold({ name: 'appointment-resource', resource: appointment })).body)[0];
      const response = await book({ name: 'appointment-reference', valueReference: { reference: `Appointment/${held.id}` } });
      expect(response.status, response.text).toBe(200);
      const booked = entries(response.body)[0];
      expect(booked).toMatchObject({ id: held.id, status: 'booked' });
      expect(booked.participant.map((p: { status: string }) => p.status)).toEqual(['accepted', 'accepted']);
      expect(await slotRow(clinic.server, slot)).toEqual({ status: 'busy', version: 3 });
      expect(await holdRow(clinic.server, held.id)).toBeUndefined();
      expect(await appointmentRow(clinic.server, held.id)).toMatchObject({ status: 'booked', version: 2 });
    });

    it('books a proposal directly (201), taking start and end from the slot when missing', async () => {
      const { slot, appointment, start } = await proposal();
      const { start: _s, end: _e, ...untimed } = appointment;
      const response = await book({ name: 'appointment-resource', resource: { ...untimed, status: 'proposed' } });
      expect(response.status, response.text).toBe(201);
      const booked = entries(response.body)[0];
      expect(booked).toMatchObject({ status: 'booked', start: new Date(start).toISOString(), end: new Date(plus(start, 30)).toISOString() });
      expect(await slotRow(clinic.server, slot)).toEqual({ status: 'busy', version: 2 });
    });

    it('changes a booking to another slot: the old slot is freed, the new one busy', async () => {
      const first = await proposal('09:00:00');
      const second = await proposal('10:00:00');
      const booked = entries((await book({ name: 'appointment-resource', resource: first.appointment })).body)[0];
      const moved = { ...booked, slot: second.appointment.slot, start: second.appointment.start, end: second.appointment.end };
      const response = await book({ name: 'appointment-resource', resource: moved });
      expect(response.status, response.text).toBe(200);
      expect(entries(response.body)[0]).toMatchObject({ id: booked.id, status: 'booked', start: second.start });
      expect((await slotRow(clinic.server, first.slot)).status).toBe('free');
      expect((await slotRow(clinic.server, second.slot)).status).toBe('busy');
    });

    it('cancels a booking with a reason: the slot is free; without a reason it is 422', async () => {
      const { slot, appointment } = await proposal();
      const booked = entries((await book({ name: 'appointment-resource', resource: appointment })).body)[0];
      const unexplained = await book({ name: 'appointment-resource', resource: { ...booked, status: 'cancelled' } });
      expectOperationOutcome(unexplained, 422);
      expect(issueExpressions(unexplained)).toEqual(['Appointment.cancelationReason']);
      expect((await slotRow(clinic.server, slot)).status).toBe('busy');
      const response = await book({ name: 'appointment-resource', resource: { ...booked, status: 'cancelled', cancelationReason: { text: 'Feeling better' } } });
      expect(response.status, response.text).toBe(200);
      expect(entries(response.body)[0].status).toBe('cancelled');
      expect((await slotRow(clinic.server, slot)).status).toBe('free');
    });

    it('of 20 concurrent $book of one slot exactly one wins (201); the others get 409 slot taken', async () => {
      const { slot, appointment } = await proposal();
      const patients = await Promise.all(Array.from({ length: 20 }, (_, i) => create(clinic.server, { resourceType: 'Patient', name: [{ family: `P${i}` }] })));
      const responses = await Promise.all(
        patients.map((patient) =>
          book({ name: 'appointment-resource', resource: appointmentFor(clinic, [slot], appointment.start as string, appointment.end as string, 'proposed', patient) }),
        ),
      );
      expect(countStatuses(responses)).toEqual({ 201: 1, 409: 19 });
      for (const response of responses.filter((r) => r.status === 409)) {
        expect(response.body.resourceType).toBe('OperationOutcome');
        expect(issueText(response)).toContain(`Slot/${slot} is already taken`);
      }
      const winner = entries(responses.find((r) => r.status === 201)?.body)[0];
      expect(await appointmentsOfSlot(clinic.server, slot)).toEqual([{ id: winner.id, status: 'booked' }]);
      expect(await slotRow(clinic.server, slot)).toEqual({ status: 'busy', version: 2 });
    });

    it('of 10 concurrent $hold then $book races on one slot, one appointment ends up with it', async () => {
      const { slot, appointment } = await proposal();
      const responses = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? hold : book)({ name: 'appointment-resource', resource: appointment })),
      );
      expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
      expect(responses.filter((r) => r.status === 409)).toHaveLength(9);
      const users = await appointmentsOfSlot(clinic.server, slot);
      expect(users).toHaveLength(1);
      expect((await slotRow(clinic.server, slot)).status).toBe(users[0].status === 'pending' ? 'busy-tentative' : 'busy');
    });
  });
});
