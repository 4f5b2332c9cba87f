import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appointmentRow,
  create,
  expectOperationOutcome,
  issueExpressions,
  issueText,
  request,
  startClinic,
  type Clinic,
} from './support.js';

const STATUSES = ['proposed', 'pending', 'booked', 'arrived', 'fulfilled', 'cancelled', 'noshow', 'entered-in-error', 'checked-in', 'waitlist'];

/** The state machine as the README documents it: from each status, where it may go. */
const ALLOWED: Record<string, string[]> = {
  proposed: ['pending', 'booked', 'waitlist', 'cancelled', 'entered-in-error'],
  waitlist: ['proposed', 'pending', 'booked', 'cancelled', 'entered-in-error'],
  pending: ['booked', 'cancelled', 'entered-in-error'],
  booked: ['arrived', 'checked-in', 'fulfilled', 'noshow', 'cancelled', 'entered-in-error'],
  arrived: ['checked-in', 'fulfilled', 'entered-in-error'],
  'checked-in': ['arrived', 'fulfilled', 'entered-in-error'],
  fulfilled: ['entered-in-error'],
  cancelled: ['entered-in-error'],
  noshow: ['entered-in-error'],
  'entered-in-error': [],
};

/** How to reach each status from a creation. */
const PATHS: Record<string, string[]> = {
  proposed: ['proposed'],
  waitlist: ['waitlist'],
  pending: ['pending'],
  booked: ['booked'],
  arrived: ['arrived'],
  'checked-in': ['checked-in'],
  fulfilled: ['booked', 'fulfilled'],
  cancelled: ['proposed', 'cancelled'],
  noshow: ['booked', 'noshow'],
  'entered-in-error': ['proposed', 'entered-in-error'],
};

describe('the Appointment state machine', () => {
  let clinic: Clinic;
  let hour = 0;

  beforeAll(async () => {
    clinic = await startClinic();
  });

  afterAll(async () => {
    await clinic.server.close();
  });

  /** An appointment (patient only, no slots, its own hour) with the given status and, for cancelled, a reason. */
  function appointment(status: string, id?: string) {
    const start = new Date(Date.UTC(2032, 0, 1) + hour++ * 3_600_000).toISOString();
    return {
      resourceType: 'Appointment',
      ...(id ? { id } : {}),
      status,
      start,
      end: new Date(Date.parse(start) + 1_800_000).toISOString(),
      participant: [{ actor: { reference: `Patient/${clinic.patient}` }, status: 'accepted' }],
      ...(status === 'cancelled' ? { cancelationReason: { text: 'changed plans' } } : {}),
    };
  }

  async function reach(status: string): Promise<string> {
    const [first, ...rest] = PATHS[status];
    const id = await create(clinic.server, appointment(first));
    for (const next of rest) {
      const response = await request(clinic.server, 'PUT', `Appointment/${id}`, appointment(next, id));
      expect(response.status, response.text).toBe(200);
    }
    return id;
  }

  it('creates an appointment in any status: a new one records what is (past visits loaded by an integrator)', async () => {
    for (const status of ['fulfilled', 'cancelled', 'noshow', 'entered-in-error']) {
      const response = await request(clinic.server, 'POST', 'Appointment', appointment(status));
      expect(response.status, response.text).toBe(201);
      expect(response.body.status).toBe(status);
    }
  });

  for (const from of STATUSES) {
    it(`from ${from}: refuses every other status with 422 naming the allowed ones, and writes nothing`, async () => {
      const id = await reach(from);
      const version = (await appointmentRow(clinic.server, id)).version;
      for (const to of STATUSES.filter((s) => s !== from && !ALLOWED[from].includes(s))) {
        const response = await request(clinic.server, 'PUT', `Appointment/${id}`, appointment(to, id));
        expectOperationOutcome(response, 422);
        expect(response.body.issue[0].code).toBe('business-rule');
        const allowed = ALLOWED[from].length ? ALLOWED[from].join(', ') : 'none (final status)';
        expect(issueText(response)).toContain(`Appointment/${id} cannot go from ${from} to ${to}; allowed from ${from}: ${allowed}`);
        expect(issueExpressions(response)).toEqual(['Appointment.status']);
      }
      expect(await appointmentRow(clinic.server, id)).toMatchObject({ status: from, version });
    });

    it(`from ${from}: allows ${ALLOWED[from].join(', ') || 'nothing'}, and keeping the status`, async () => {
      for (const to of [from, ...ALLOWED[from]]) {
        const id = await reach(from);
        const response = await request(clinic.server, 'PUT', `Appointment/${id}`, appointment(to, id));
        expect(response.status, `${from} -> ${to}: ${response.text}`).toBe(200);
        expect((await appointmentRow(clinic.server, id)).status).toBe(to);
      }
    });
  }

  it('requires a cancelationReason to cancel (422 pointing at it)', async () => {
    const id = await reach('booked');
    const { cancelationReason: _, ...withoutReason } = { ...appointment('cancelled', id) };
    const response = await request(clinic.server, 'PUT', `Appointment/${id}`, withoutReason);
    expectOperationOutcome(response, 422);
    expect(issueText(response)).toContain('Cancelling an appointment requires a cancelationReason');
    expect(issueExpressions(response)).toEqual(['Appointment.cancelationReason']);
    expect((await appointmentRow(clinic.server, id)).status).toBe('booked');
    const empty = await request(clinic.server, 'PUT', `Appointment/${id}`, { ...withoutReason, cancelationReason: { coding: [{ system: 'urn:x', display: 'no code' }] } });
    expectOperationOutcome(empty, 422);
  });

  it('applies to transaction entries and patches too', async () => {
    const id = await reach('fulfilled');
    const patch = await clinic.server.app.inject({
      method: 'PATCH',
      url: `/fhir/Appointment/${id}`,
      headers: { 'content-type': 'application/json-patch+json', authorization: `Bearer ${clinic.server.adminToken}` },
      payload: JSON.stringify([{ op: 'replace', path: '/status', value: 'booked' }]),
    });
    expect(patch.statusCode).toBe(422);
    expect(patch.body).toContain('cannot go from fulfilled to booked');
    const bundle = await request(clinic.server, 'POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: appointment('booked', id), request: { method: 'PUT', url: `Appointment/${id}` } }],
    });
    expectOperationOutcome(bundle, 422);
    expect(issueText(bundle)).toContain('cannot go from fulfilled to booked');
    expect((await appointmentRow(clinic.server, id)).status).toBe('fulfilled');
  });
});
