import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv } from '../../../src/config.js';
import { HOLD_EXPIRED_REASON, Scheduling } from '../../../src/resources/index.js';
import { buildServer } from '../../../src/server.js';
import { Database } from '../../../src/store/index.js';
import { TEST_BASE_URL } from '../../support/test-server.js';
import {
  appointmentRow,
  createSlot,
  entries,
  freshDay,
  holdRow,
  parameters,
  plus,
  request,
  slotRow,
  startClinic,
  type Clinic,
} from './support.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await what();
    if (ok(value) || Date.now() > deadline) return value;
    await sleep(50);
  }
}

/** Until the last hold's expiry (whole seconds, so up to 2 s after a 1 s hold was made) has passed. */
async function sleepUntilHoldsExpired(clinic: Clinic): Promise<void> {
  const { rows } = await clinic.server.db.query<{ last: Date }>('SELECT max(expires_at) AS last FROM appointment_hold');
  await sleep(Math.max(0, rows[0].last.getTime() - Date.now()) + 100);
}

async function holdSlot(clinic: Clinic, start: string): Promise<{ slot: string; appointment: string }> {
  const slot = await createSlot(clinic, start);
  const found = await request(clinic.server, 'GET', `Appointment/$find?start=${start}&end=${plus(start, 1)}&patient=Patient/${clinic.patient}`);
  const held = await request(clinic.server, 'POST', 'Appointment/$hold', parameters({ name: 'appointment-resource', resource: entries(found.body)[0] }));
  expect(held.status, held.text).toBe(201);
  return { slot, appointment: entries(held.body)[0].id };
}

/** Expired holds free their slots without any request: a timer in each process, and a sweep at start-up. */
describe('hold expiry', () => {
  describe('with a short hold and a fast sweeper', () => {
    let clinic: Clinic;

    beforeAll(async () => {
      clinic = await startClinic({ APPOINTMENT_HOLD_SECONDS: '1', APPOINTMENT_HOLD_SWEEP_MS: '100' });
    });

    afterAll(async () => {
      await clinic.server.close();
    });

    it('frees the slot and cancels the appointment once the hold expires, with no request arriving', async () => {
      const { slot, appointment } = await holdSlot(clinic, `${freshDay()}T09:00:00Z`);
      expect((await slotRow(clinic.server, slot)).status).toBe('busy-tentative');
      // Only the database is watched from here: no HTTP request reaches the server.
      const freed = await until(() => slotRow(clinic.server, slot), (row) => row.status === 'free');
      expect(freed).toEqual({ status: 'free', version: 3 });
      const cancelled = await appointmentRow(clinic.server, appointment);
      expect(cancelled).toMatchObject({ status: 'cancelled', version: 2 });
      expect(cancelled.content.cancelationReason).toEqual({ text: HOLD_EXPIRED_REASON });
      expect(await holdRow(clinic.server, appointment)).toBeUndefined();
      // The freed slot is offered and can be booked again.
      const found = await request(clinic.server, 'GET', `Appointment/$find?start=${cancelled.content.start}&end=${cancelled.content.end}`);
      expect(found.body.total).toBe(1);
    });

    it('does not touch a hold that was booked in time', async () => {
      const { slot, appointment } = await holdSlot(clinic, `${freshDay()}T09:00:00Z`);
      const booked = await request(clinic.server, 'POST', 'Appointment/$book', parameters({ name: 'appointment-reference', valueReference: { reference: `Appointment/${appointment}` } }));
      expect(booked.status, booked.text).toBe(200);
      await sleep(1500);
      expect(await appointmentRow(clinic.server, appointment)).toMatchObject({ status: 'booked', version: 2 });
      expect(await slotRow(clinic.server, slot)).toEqual({ status: 'busy', version: 3 });
    });
  });

  it('frees holds that expired while the server was down, at start-up (a new worker), each once', async () => {
    // Sweeps only at start-up: the interval is an hour.
    const first = await startClinic({ APPOINTMENT_HOLD_SECONDS: '1', APPOINTMENT_HOLD_SWEEP_MS: '3600000' });
    const url = first.server.db.connectionString;
    const held = await Promise.all([9, 10, 11].map((hour) => holdSlot(first, `${freshDay()}T${String(hour).padStart(2, '0')}:00:00Z`)));
    await first.server.app.close();
    await sleepUntilHoldsExpired(first);
    for (const { slot, appointment } of held) {
      expect((await slotRow(first.server, slot)).status).toBe('busy-tentative');
      expect((await appointmentRow(first.server, appointment)).status).toBe('pending');
    }
    // Two processes come up at once on the same database: each hold is freed by exactly one of them.
    const config = configFromEnv({ BASE_URL: TEST_BASE_URL, LOG_LEVEL: 'silent', APPOINTMENT_HOLD_SWEEP_MS: '3600000' });
    const dbs = [new Database(url, 4), new Database(url, 4)];
    const servers = await Promise.all(dbs.map((db) => buildServer(config, db, false)));
    try {
      for (const { slot, appointment } of held) {
        expect(await slotRow(first.server, slot)).toEqual({ status: 'free', version: 3 });
        expect(await appointmentRow(first.server, appointment)).toMatchObject({ status: 'cancelled', version: 2 });
        expect(await holdRow(first.server, appointment)).toBeUndefined();
      }
      const { rows } = await first.server.db.query<{ n: string }>(`SELECT count(*) AS n FROM resource_history WHERE resource_type = 'Appointment' AND content->>'status' = 'cancelled'`);
      expect(Number(rows[0].n)).toBe(held.length);
    } finally {
      for (const server of servers) await server.app.close();
      for (const db of dbs) await db.close();
      // Closes the (already closed) first app again, its pool, and drops the test database.
      await first.server.close();
    }
  });

  it('shares the work between the sweepers of several processes without doing any of it twice', async () => {
    const clinic = await startClinic({ APPOINTMENT_HOLD_SECONDS: '1', APPOINTMENT_HOLD_SWEEP_MS: '3600000' });
    const config = configFromEnv({ BASE_URL: TEST_BASE_URL, LOG_LEVEL: 'silent', APPOINTMENT_HOLD_SWEEP_MS: '3600000' });
    const db = new Database(clinic.server.db.connectionString, 4);
    const second = await buildServer(config, db, false);
    try {
      const day = freshDay();
      const held = [];
      for (let minute = 0; minute < 12 * 30; minute += 30) held.push(await holdSlot(clinic, plus(`${day}T08:00:00Z`, minute)));
      await sleepUntilHoldsExpired(clinic);
      const [a, b] = await Promise.all([Scheduling.of(clinic.server.store).sweepHolds(), Scheduling.of(second.store).sweepHolds()]);
      expect(a + b).toBe(held.length);
      for (const { slot, appointment } of held) {
        expect(await slotRow(clinic.server, slot)).toEqual({ status: 'free', version: 3 });
        expect(await appointmentRow(clinic.server, appointment)).toMatchObject({ status: 'cancelled', version: 2 });
      }
    } finally {
      await second.app.close();
      await db.close();
      await clinic.server.close();
    }
  });
});

