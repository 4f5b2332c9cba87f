import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appointmentFor,
  appointmentRow,
  appointmentsOfSlot,
  countStatuses,
  create,
  createSlot,
  expectOperationOutcome,
  freshDay,
  issueExpressions,
  issueText,
  plus,
  request,
  slotRow,
  startClinic,
  type Clinic,
} from './support.js';

/** Booking with plain REST: creating or updating an Appointment applies the same rules as $book. */
describe('booking rules on the write path (plain REST)', () => {
  let clinic: Clinic;

  beforeAll(async () => {
    clinic = await startClinic();
  });

  afterAll(async () => {
    await clinic.server.close();
  });

  const at = (time: string) => `${freshDay()}T${time}Z`;

  async function bookedAppointment(start: string): Promise<{ slot: string; appointment: string }> {
    const slot = await createSlot(clinic, start);
    const appointment = await create(clinic.server, appointmentFor(clinic, [slot], start, plus(start, 30)));
    return { slot, appointment };
  }

  describe('refusals', () => {
    it('refuses a second booking of a busy slot with 409 saying the slot is taken, and writes nothing', async () => {
      const start = at('09:00:00');
      const { slot, appointment } = await bookedAppointment(start);
      const before = await slotRow(clinic.server, slot);
      const response = await request(clinic.server, 'POST', 'Appointment', appointmentFor(clinic, [slot], start, plus(start, 30), 'booked', clinic.otherPatient));
      expectOperationOutcome(response, 409);
      expect(issueText(response)).toContain(`Slot/${slot} is already taken`);
      expect(response.body.issue[0].code).toBe('conflict');
      expect(await slotRow(clinic.server, slot)).toEqual(before);
      expect(await appointmentsOfSlot(clinic.server, slot)).toEqual([{ id: appointment, status: 'booked' }]);
    });

    it('refuses to hold (pending) a slot that is booked, and to book a held one', async () => {
      const start = at('09:00:00');
      const held = await createSlot(clinic, start);
      await create(clinic.server, appointmentFor(clinic, [held], start, plus(start, 30), 'pending'));
      expect((await slotRow(clinic.server, held)).status).toBe('busy-tentative');
      const booking = await request(clinic.server, 'POST', 'Appointment', appointmentFor(clinic, [held], start, plus(start, 30), 'booked', clinic.otherPatient));
      expectOperationOutcome(booking, 409);
      expect(issueText(booking)).toContain('already taken');
    });

    it('refuses a slot its owner blocked (busy-unavailable, entered-in-error) with 409 naming the status', async () => {
      for (const status of ['busy-unavailable', 'entered-in-error']) {
        const start = at('10:00:00');
        const slot = await createSlot(clinic, start, { status });
        const response = await request(clinic.server, 'POST', 'Appointment', appointmentFor(clinic, [slot], start, plus(start, 30)));
        expectOperationOutcome(response, 409);
        expect(issueText(response)).toContain(`Slot/${slot} cannot be booked: its status is ${status}`);
        expect(await slotRow(clinic.server, slot)).toEqual({ status, version: 1 });
      }
    });

    it('refuses a slot that does not exist, and a slot reference that is not a local Slot (422)', async () => {
      const start = at('11:00:00');
      const missing = await request(clinic.server, 'POST', 'Appointment', appointmentFor(clinic, ['no-such-slot'], start, plus(start, 30)));
      expectOperationOutcome(missing, 422);
      expect(issueText(missing)).toContain('Slot/no-such-slot does not exist');
      const foreign = { ...appointmentFor(clinic, ['x'], start, plus(start, 30)), slot: [{ reference: 'http://elsewhere.example/fhir/Slot/1' }] };
      const response = await request(clinic.server, 'POST', 'Appointment', foreign);
      expectOperationOutcome(response, 422);
      expect(issueExpressions(response)).toEqual(['Appointment.slot[0]']);
    });

    it('refuses an overlapping appointment for the same practitioner, through another slot or none', async () => {
      const start = at('13:00:00');
      await bookedAppointment(start);
      // A second schedule of the same practitioner (another location) with a slot at an overlapping time.
      const secondSchedule = await create(clinic.server, { resourceType: 'Schedule', actor: [{ reference: `Practitioner/${clinic.practitioner}` }] });
      const other = await createSlot(clinic, plus(start, 15), {}, 30, secondSchedule);
      const viaSlot = await request(clinic.server, 'POST', 'Appointment', appointmentFor(clinic, [other], plus(start, 15), plus(start, 45), 'booked', clinic.otherPatient));
      expectOperationOutcome(viaSlot, 409);
      expect(issueText(viaSlot)).toMatch(new RegExp(`Practitioner/${clinic.practitioner} already has Appointment/[\\w-]+ at an overlapping time`));
      expect((await slotRow(clinic.server, other)).status).toBe('free');

      const noSlot = await request(clinic.server, 'POST', 'Appointment', appointmentFor(clinic, [], plus(start, -10), plus(start, 5), 'booked', clinic.otherPatient));
      expectOperationOutcome(noSlot, 409);
      expect(issueText(noSlot)).toContain('overlapping time');
    });

    it('refuses a booking within a practitioner\'s appointment longer than 31 days', async () => {
      // Far from the days the other tests use: it keeps the practitioner busy for 40 days.
      const start = '2045-01-01T07:00:00Z';
      const long = await create(clinic.server, appointmentFor(clinic, [], start, plus(start, 40 * 24 * 60)));
      const response = await request(clinic.server, 'POST', 'Appointment', appointmentFor(clinic, [], plus(start, 35 * 24 * 60), plus(start, 35 * 24 * 60 + 30)));
      expectOperationOutcome(response, 409);
      expect(issueText(response)).toContain(`already has Appointment/${long} at an overlapping time`);
    });

    it('frees a practitioner\'s time when the appointment is cancelled or moved', async () => {
      const start = at('15:00:00');
      const busyTimes = async (id: string) =>
        (await clinic.server.db.query(`SELECT actor, starts FROM appointment_busy WHERE appointment_id = $1`, [id])).rows.map((row) => [row.actor, row.starts.toISOString()]);
      const cancelled = await create(clinic.server, appointmentFor(clinic, [], start, plus(start, 30)));
      expect(await busyTimes(cancelled)).toEqual([[`Practitioner/${clinic.practitioner}`, new Date(start).toISOString()]]);
      const stored = (await request(clinic.server, 'GET', `Appointment/${cancelled}`)).body;
      expect((await request(clinic.server, 'PUT', `Appointment/${cancelled}`, { ...stored, status: 'cancelled', cancelationReason: { text: 'Practitioner is ill' } })).status).toBe(200);
      expect(await busyTimes(cancelled)).toEqual([]);

      const moved = await create(clinic.server, appointmentFor(clinic, [], start, plus(start, 30)));
      const later = { ...(await request(clinic.server, 'GET', `Appointment/${moved}`)).body, start: plus(start, 60), end: plus(start, 90) };
      expect((await request(clinic.server, 'PUT', `Appointment/${moved}`, later)).status).toBe(200);
      expect(await busyTimes(moved)).toEqual([[`Practitioner/${clinic.practitioner}`, new Date(plus(start, 60)).toISOString()]]);
      await create(clinic.server, appointmentFor(clinic, [], start, plus(start, 30), 'booked', clinic.otherPatient));
    });

    it('refuses to move a booked appointment onto a taken slot, and leaves it where it was', async () => {
      const start = at('08:00:00');
      const first = await bookedAppointment(start);
      const second = await bookedAppointment(plus(start, 60));
      const moved = { ...appointmentFor(clinic, [second.slot], plus(start, 60), plus(start, 90)), id: first.appointment };
      const response = await request(clinic.server, 'PUT', `Appointment/${first.appointment}`, moved);
      expectOperationOutcome(response, 409);
      expect((await appointmentRow(clinic.server, first.appointment)).version).toBe(1);
      expect((await slotRow(clinic.server, first.slot)).status).toBe('busy');
    });
  });

  describe('slot statuses follow the appointments', () => {
    it('books: the slot becomes busy in a new version of its own', async () => {
      const start = at('09:00:00');
      const { slot, appointment } = await bookedAppointment(start);
      expect(await slotRow(clinic.server, slot)).toEqual({ status: 'busy', version: 2 });
      const history = await request(clinic.server, 'GET', `Slot/${slot}/_history`);
      expect(history.body.entry.map((e: { resource: { status: string } }) => e.resource.status)).toEqual(['busy', 'free']);
      // Search sees the new status at once (the index is written in the same transaction).
      const busy = await request(clinic.server, 'GET', `Slot?_id=${slot}&status=busy`);
      expect(busy.body.total).toBe(1);
      expect((await appointmentRow(clinic.server, appointment)).status).toBe('booked');
    });

    it('cancels: the slot is free again', async () => {
      const start = at('09:00:00');
      const { slot, appointment } = await bookedAppointment(start);
      const stored = (await request(clinic.server, 'GET', `Appointment/${appointment}`)).body;
      const response = await request(clinic.server, 'PUT', `Appointment/${appointment}`, {
        ...stored,
        status: 'cancelled',
        cancelationReason: { text: 'Patient is travelling' },
      });
      expect(response.status, response.text).toBe(200);
      expect(await slotRow(clinic.server, slot)).toEqual({ status: 'free', version: 3 });
      // And it can be booked again.
      await create(clinic.server, appointmentFor(clinic, [slot], start, plus(start, 30), 'booked', clinic.otherPatient));
      expect(await slotRow(clinic.server, slot)).toEqual({ status: 'busy', version: 4 });
    });

    it('entered-in-error frees the slot; deleting the appointment frees it too', async () => {
      const start = at('09:00:00');
      const first = await bookedAppointment(start);
      const stored = (await request(clinic.server, 'GET', `Appointment/${first.appointment}`)).body;
      expect((await request(clinic.server, 'PUT', `Appointment/${first.appointment}`, { ...stored, status: 'entered-in-error' })).status).toBe(200);
      expect((await slotRow(clinic.server, first.slot)).status).toBe('free');

      const second = await bookedAppointment(plus(start, 60));
      expect((await request(clinic.server, 'DELETE', `Appointment/${second.appointment}`)).status).toBe(200);
      expect((await slotRow(clinic.server, second.slot)).status).toBe('free');
    });

    it('noshow and fulfilled keep the slot busy (the time was given away and has passed)', async () => {
      const start = at('09:00:00');
      for (const path of [['noshow'], ['arrived', 'fulfilled']]) {
        const { slot, appointment } = await bookedAppointment(start.replace('09:', path.length === 1 ? '10:' : '11:'));
        for (const status of path) {
          const stored = (await request(clinic.server, 'GET', `Appointment/${appointment}`)).body;
          const response = await request(clinic.server, 'PUT', `Appointment/${appointment}`, { ...stored, status });
          expect(response.status, response.text).toBe(200);
        }
        expect(await slotRow(clinic.server, slot)).toEqual({ status: 'busy', version: 2 });
      }
    });

    it('moves a booking: the new slot becomes busy, the old one free, in one write', async () => {
      const start = at('14:00:00');
      const { slot, appointment } = await bookedAppointment(start);
      const later = await createSlot(clinic, plus(start, 60));
      const response = await request(clinic.server, 'PUT', `Appointment/${appointment}`, {
        ...appointmentFor(clinic, [later], plus(start, 60), plus(start, 90)),
        id: appointment,
      });
      expect(response.status, response.text).toBe(200);
      expect(await slotRow(clinic.server, slot)).toEqual({ status: 'free', version: 3 });
      expect(await slotRow(clinic.server, later)).toEqual({ status: 'busy', version: 2 });
    });

    it('a pending appointment holds its slot busy-tentative; booking it makes the slot busy', async () => {
      const start = at('15:00:00');
      const slot = await createSlot(clinic, start);
      const appointment = await create(clinic.server, appointmentFor(clinic, [slot], start, plus(start, 30), 'pending'));
      expect(await slotRow(clinic.server, slot)).toEqual({ status: 'busy-tentative', version: 2 });
      const stored = (await request(clinic.server, 'GET', `Appointment/${appointment}`)).body;
      expect((await request(clinic.server, 'PUT', `Appointment/${appointment}`, { ...stored, status: 'booked' })).status).toBe(200);
      expect(await slotRow(clinic.server, slot)).toEqual({ status: 'busy', version: 3 });
    });

    it('a proposed or waitlisted appointment does not take its slot', async () => {
      const start = at('16:00:00');
      const slot = await createSlot(clinic, start);
      await create(clinic.server, appointmentFor(clinic, [slot], start, plus(start, 30), 'proposed'));
      await create(clinic.server, appointmentFor(clinic, [slot], start, plus(start, 30), 'waitlist', clinic.otherPatient));
      expect(await slotRow(clinic.server, slot)).toEqual({ status: 'free', version: 1 });
    });
  });

  describe('overbooking', () => {
    it('an overbookable slot takes several appointments, overlapping for the practitioner', async () => {
      const start = at('09:00:00');
      const slot = await createSlot(clinic, start, { overbooked: true });
      const first = await create(clinic.server, appointmentFor(clinic, [slot], start, plus(start, 30)));
      const second = await create(clinic.server, appointmentFor(clinic, [slot], start, plus(start, 30), 'booked', clinic.otherPatient));
      expect(await slotRow(clinic.server, slot)).toEqual({ status: 'busy', version: 2 });
      // Cancelling one keeps the slot busy for the other; cancelling both frees it.
      for (const [id, status] of [[first, 'busy'], [second, 'free']]) {
        const stored = (await request(clinic.server, 'GET', `Appointment/${id}`)).body;
        const response = await request(clinic.server, 'PUT', `Appointment/${id}`, { ...stored, status: 'cancelled', cancelationReason: { text: 'x' } });
        expect(response.status, response.text).toBe(200);
        expect((await slotRow(clinic.server, slot)).status).toBe(status);
      }
    });

    it('a blocked slot stays blocked even when overbookable', async () => {
      const start = at('10:00:00');
      const slot = await createSlot(clinic, start, { overbooked: true, status: 'busy-unavailable' });
      expectOperationOutcome(await request(clinic.server, 'POST', 'Appointment', appointmentFor(clinic, [slot], start, plus(start, 30))), 409);
    });
  });

  describe('slots used by appointments', () => {
    it('cannot be freed, moved or deleted directly (409), even by an admin; other changes are fine', async () => {
      const start = at('09:00:00');
      const { slot, appointment } = await bookedAppointment(start);
      const stored = (await request(clinic.server, 'GET', `Slot/${slot}`)).body;
      for (const change of [{ status: 'free' }, { status: 'busy-unavailable' }, { start: plus(start, 5), end: plus(start, 35) }]) {
        const response = await request(clinic.server, 'PUT', `Slot/${slot}`, { ...stored, ...change });
        expectOperationOutcome(response, 409);
        expect(issueText(response)).toContain(`Slot/${slot} is used by Appointment/${appointment}`);
      }
      expectOperationOutcome(await request(clinic.server, 'DELETE', `Slot/${slot}`), 409);
      const commented = await request(clinic.server, 'PUT', `Slot/${slot}`, { ...stored, comment: 'Bring the X-ray' });
      expect(commented.status, commented.text).toBe(200);
      expect(await slotRow(clinic.server, slot)).toEqual({ status: 'busy', version: 3 });
    });
  });

  describe('concurrency', () => {
    it('of 20 concurrent REST bookings of one slot exactly one wins; the others get 409 slot taken', async () => {
      const start = at('12:00:00');
      const slot = await createSlot(clinic, start);
      const patients = await Promise.all(Array.from({ length: 20 }, (_, i) => create(clinic.server, { resourceType: 'Patient', name: [{ family: `Racer${i}` }] })));
      const responses = await Promise.all(
        patients.map((patient) => request(clinic.server, 'POST', 'Appointment', appointmentFor(clinic, [slot], start, plus(start, 30), 'booked', patient))),
      );
      expect(countStatuses(responses)).toEqual({ 201: 1, 409: 19 });
      for (const response of responses.filter((r) => r.status === 409)) expect(issueText(response)).toContain('already taken');
      const winner = responses.find((r) => r.status === 201)?.body;
      expect(await appointmentsOfSlot(clinic.server, slot)).toEqual([{ id: winner.id, status: 'booked' }]);
      expect(await slotRow(clinic.server, slot)).toEqual({ status: 'busy', version: 2 });
    });

    it('of 10 concurrent bookings of one practitioner at one time through different slots, one wins', async () => {
      const start = at('17:00:00');
      const schedules = await Promise.all(
        Array.from({ length: 10 }, () => create(clinic.server, { resourceType: 'Schedule', actor: [{ reference: `Practitioner/${clinic.practitioner}` }] })),
      );
      const slots = await Promise.all(schedules.map((schedule) => createSlot(clinic, start, {}, 30, schedule)));
      const responses = await Promise.all(
        slots.map((slot) => request(clinic.server, 'POST', 'Appointment', appointmentFor(clinic, [slot], start, plus(start, 30)))),
      );
      expect(countStatuses(responses)).toEqual({ 201: 1, 409: 9 });
      const statuses = await Promise.all(slots.map(async (slot) => (await slotRow(clinic.server, slot)).status));
      expect(statuses.filter((s) => s === 'busy')).toHaveLength(1);
      expect(statuses.filter((s) => s === 'free')).toHaveLength(9);
    });
  });
});
