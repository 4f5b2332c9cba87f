import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  create,
  expectOperationOutcome,
  issueText,
  parameters,
  request,
  startClinic,
  type Clinic,
} from './support.js';

const weekdays = (start: string, end: string) => ({
  name: 'availableTime',
  part: [
    ...['mon', 'tue', 'wed', 'thu', 'fri'].map((day) => ({ name: 'daysOfWeek', valueCode: day })),
    { name: 'availableStartTime', valueTime: start },
    { name: 'availableEndTime', valueTime: end },
  ],
});

/** `Schedule/[id]/$generate-slots`: publishing availability as Slots. */
describe('Schedule/$generate-slots', () => {
  let clinic: Clinic;

  beforeAll(async () => {
    clinic = await startClinic();
  });

  afterAll(async () => {
    await clinic.server.close();
  });

  const newSchedule = (actor = `Practitioner/${clinic.practitioner}`) =>
    create(clinic.server, {
      resourceType: 'Schedule',
      actor: [{ reference: actor }],
      specialty: [{ coding: [{ system: 'http://snomed.info/sct', code: '394814009' }] }],
    });
  const generate = (schedule: string, ...input: Record<string, unknown>[]) =>
    request(clinic.server, 'POST', `Schedule/${schedule}/$generate-slots`, parameters(...input));
  const out = (body: { parameter: { name: string; valueInteger?: number }[] }, name: string) => body.parameter.find((p) => p.name === name)?.valueInteger;

  async function slotsOf(schedule: string): Promise<{ id: string; start: string; end: string; status: string }[]> {
    const response = await request(clinic.server, 'GET', `Slot?schedule=Schedule/${schedule}&_sort=start&_count=1000`);
    expect(response.status, response.text).toBe(200);
    return (response.body.entry ?? []).map((e: { resource: Record<string, string> }) => ({
      id: e.resource.id,
      start: e.resource.start,
      end: e.resource.end,
      status: e.resource.status,
    }));
  }

  describe('refusals', () => {
    it('checks its parameters (400 naming what is wrong)', async () => {
      const schedule = await newSchedule();
      const range = [{ name: 'start', valueDate: '2031-03-03' }, { name: 'end', valueDate: '2031-03-07' }];
      const minutes = { name: 'slot-minutes', valuePositiveInt: 30 };
      const hours = weekdays('09:00:00', '12:00:00');
      const cases: [Record<string, unknown>[], string][] = [
        [[range[1], minutes, hours], 'Parameter "start" is required'],
        [[range[0], minutes, hours], 'Parameter "end" is required'],
        [[...range, hours], 'Parameter "slot-minutes" is required'],
        [[...range, { name: 'slot-minutes', valueInteger: 0 }, hours], 'from 1 to 1440'],
        [[{ name: 'start', valueDate: '2031-03-07' }, { name: 'end', valueDate: '2031-03-03' }, minutes, hours], '"end" must not be before "start"'],
        [[{ name: 'start', valueDate: '2031-01-01' }, { name: 'end', valueDate: '2032-06-01' }, minutes, hours], 'At most 366 days'],
        [[{ name: 'start', valueString: '03/03/2031' }, range[1], minutes, hours], 'must be a date (YYYY-MM-DD)'],
        [[...range, minutes, hours, { name: 'timezone', valueString: 'Mars/Olympus' }], 'IANA time zone'],
        [[...range, minutes, { name: 'availableTime', part: [{ name: 'availableStartTime', valueTime: '09:00:00' }] }], 'needs daysOfWeek'],
        [[...range, minutes, { name: 'availableTime', part: [{ name: 'daysOfWeek', valueCode: 'monday' }] }], 'needs daysOfWeek, each one of'],
        [[...range, minutes, { name: 'availableTime', part: [{ name: 'daysOfWeek', valueCode: 'mon' }] }], 'needs availableStartTime and availableEndTime, or allDay'],
        [[...range, minutes, { name: 'notAvailable', part: [{ name: 'description', valueString: 'x' }] }, hours], 'needs during'],
        [[...range, minutes], 'Give availableTime'],
        [[{ name: 'start', valueDate: '2031-01-01' }, { name: 'end', valueDate: '2031-12-31' }, { name: 'slot-minutes', valueInteger: 5 }, hours], 'at most 5000'],
      ];
      for (const [input, text] of cases) {
        const response = await generate(schedule, ...input);
        expectOperationOutcome(response, 400);
        expect(issueText(response), text).toContain(text);
      }
      expect(await slotsOf(schedule)).toEqual([]);
    });

    it('answers 404 for a schedule that does not exist; only on Schedule instances; POST only', async () => {
      const input = [{ name: 'start', valueDate: '2031-03-03' }, { name: 'end', valueDate: '2031-03-03' }, { name: 'slot-minutes', valueInteger: 30 }, weekdays('09:00:00', '10:00:00')];
      expectOperationOutcome(await generate('missing', ...input), 404);
      expectOperationOutcome(await request(clinic.server, 'POST', `Practitioner/${clinic.practitioner}/$generate-slots`, parameters(...input)), 404);
      expectOperationOutcome(await request(clinic.server, 'POST', 'Schedule/$generate-slots', parameters(...input)), 404);
      const schedule = await newSchedule();
      expect((await request(clinic.server, 'GET', `Schedule/${schedule}/$generate-slots`)).status).toBe(405);
    });

    it('lets only the schedule owner or an admin publish availability (403 for a colleague, 404 for a patient)', async () => {
      const schedule = await newSchedule();
      const input = parameters({ name: 'start', valueDate: '2031-03-03' }, { name: 'end', valueDate: '2031-03-03' }, { name: 'slot-minutes', valueInteger: 60 }, weekdays('09:00:00', '11:00:00'));
      const colleague = await request(clinic.server, 'POST', `Schedule/${schedule}/$generate-slots`, input, clinic.colleagueToken);
      expectOperationOutcome(colleague, 403);
      expect(issueText(colleague)).toContain(`Only the owner of Schedule/${schedule}`);
      // The Schedule is outside the patient's compartment: it does not exist for them.
      expectOperationOutcome(await request(clinic.server, 'POST', `Schedule/${schedule}/$generate-slots`, input, clinic.patientToken), 404);
      expect(await slotsOf(schedule)).toEqual([]);
      const owner = await request(clinic.server, 'POST', `Schedule/${schedule}/$generate-slots`, input, clinic.ownerToken);
      expect(owner.status, owner.text).toBe(200);
      expect(out(owner.body, 'created')).toBe(2);
    });
  });

  it('cuts weekly availability into free slots for each day of the range, in the given time zone', async () => {
    const schedule = await newSchedule();
    const response = await generate(
      schedule,
      { name: 'start', valueDate: '2031-03-24' },
      { name: 'end', valueDate: '2031-03-31' },
      { name: 'slot-minutes', valueInteger: 45 },
      { name: 'timezone', valueString: 'Europe/Berlin' },
      weekdays('09:00:00', '11:00:00'),
    );
    expect(response.status, response.text).toBe(200);
    // Two 45-minute slots fit in 09:00-11:00 (the last 30 minutes are left out), Monday to Friday, and the next Monday.
    expect(out(response.body, 'created')).toBe(12);
    expect(out(response.body, 'existing')).toBe(0);
    expect(response.body.parameter.filter((p: { name: string }) => p.name === 'slot')).toHaveLength(12);
    const slots = await slotsOf(schedule);
    expect(slots.map((s) => s.start)).toEqual([
      ...['24', '25', '26', '27', '28'].flatMap((day) => [`2031-03-${day}T08:00:00Z`, `2031-03-${day}T08:45:00Z`]),
      // Daylight saving time started on Sunday 30 March: 09:00 in Berlin is now 07:00 UTC.
      '2031-03-31T07:00:00Z',
      '2031-03-31T07:45:00Z',
    ]);
    expect(slots.every((s) => s.status === 'free')).toBe(true);
    expect(slots[0].end).toBe('2031-03-24T08:45:00Z');
    const stored = (await request(clinic.server, 'GET', `Slot/${slots[0].id}`)).body;
    expect(stored).toMatchObject({
      schedule: { reference: `Schedule/${schedule}` },
      specialty: [{ coding: [{ system: 'http://snomed.info/sct', code: '394814009' }] }],
    });
    expect(stored.overbooked).toBeUndefined();
  });

  it('is idempotent: a second run creates nothing; slots overlapping existing ones (any status) are skipped', async () => {
    const schedule = await newSchedule();
    const input = [
      { name: 'start', valueDate: '2031-03-03' },
      { name: 'end', valueDate: '2031-03-09' },
      { name: 'slot-minutes', valueInteger: 30 },
      weekdays('09:00:00', '12:00:00'),
    ];
    const first = await generate(schedule, ...input);
    expect(out(first.body, 'created')).toBe(30);
    const before = await slotsOf(schedule);

    const second = await generate(schedule, ...input);
    expect(second.status, second.text).toBe(200);
    expect(out(second.body, 'created')).toBe(0);
    expect(out(second.body, 'existing')).toBe(30);
    expect(await slotsOf(schedule)).toEqual(before);
    const { rows } = await clinic.server.db.query<{ versions: string }>(
      `SELECT count(*) AS versions FROM resource_history WHERE resource_type = 'Slot' AND content->'schedule'->>'reference' = $1`,
      [`Schedule/${schedule}`],
    );
    expect(Number(rows[0].versions)).toBe(30);

    // Widening the hours adds only what is new; a hand-made slot (blocked) is respected.
    await create(clinic.server, {
      resourceType: 'Slot',
      schedule: { reference: `Schedule/${schedule}` },
      status: 'busy-unavailable',
      start: '2031-03-03T12:15:00Z',
      end: '2031-03-03T12:45:00Z',
    });
    const wider = await generate(schedule, ...input.slice(0, 3), weekdays('09:00:00', '13:00:00'));
    expect(out(wider.body, 'created')).toBe(5 * 2 - 2);
    expect(out(wider.body, 'existing')).toBe(30 + 2);
  });

  it('uses the PractitionerRole\'s availableTime and notAvailable when the request gives none', async () => {
    const role = await create(clinic.server, {
      resourceType: 'PractitionerRole',
      practitioner: { reference: `Practitioner/${clinic.practitioner}` },
      availableTime: [
        { daysOfWeek: ['mon', 'wed'], availableStartTime: '14:00:00', availableEndTime: '15:00:00' },
        { daysOfWeek: ['sat'], allDay: true },
      ],
      notAvailable: [{ description: 'Conference', during: { start: '2031-03-05T00:00:00Z', end: '2031-03-06T00:00:00Z' } }],
    });
    const schedule = await newSchedule(`PractitionerRole/${role}`);
    const response = await generate(
      schedule,
      { name: 'start', valueDate: '2031-03-03' },
      { name: 'end', valueDate: '2031-03-09' },
      { name: 'slot-minutes', valueInteger: 240 },
    );
    expect(response.status, response.text).toBe(200);
    // Monday 14:00-15:00 is shorter than 4 hours: nothing. Wednesday is a conference. Saturday: six 4-hour slots.
    expect((await slotsOf(schedule)).map((s) => s.start)).toEqual(['00', '04', '08', '12', '16', '20'].map((h) => `2031-03-08T${h}:00:00Z`));

    const hourly = await newSchedule(`PractitionerRole/${role}`);
    await generate(hourly, { name: 'start', valueDate: '2031-03-03' }, { name: 'end', valueDate: '2031-03-05' }, { name: 'slot-minutes', valueInteger: 60 });
    expect((await slotsOf(hourly)).map((s) => s.start)).toEqual(['2031-03-03T14:00:00Z']);

    // The owner of the role's practitioner owns the role's schedule.
    const byOwner = await request(
      clinic.server,
      'POST',
      `Schedule/${hourly}/$generate-slots`,
      parameters({ name: 'start', valueDate: '2031-03-10' }, { name: 'end', valueDate: '2031-03-10' }, { name: 'slot-minutes', valueInteger: 60 }),
      clinic.ownerToken,
    );
    expect(byOwner.status, byOwner.text).toBe(200);
    expect(out(byOwner.body, 'created')).toBe(1);
  });

  it('honours notAvailable parameters and makes overbookable slots on request', async () => {
    const schedule = await newSchedule();
    const response = await generate(
      schedule,
      { name: 'start', valueDate: '2031-03-03' },
      { name: 'end', valueDate: '2031-03-04' },
      { name: 'slot-minutes', valueInteger: 60 },
      { name: 'overbooked', valueBoolean: true },
      weekdays('09:00:00', '12:00:00'),
      { name: 'notAvailable', part: [{ name: 'description', valueString: 'Team meeting' }, { name: 'during', valuePeriod: { start: '2031-03-03T10:30:00Z', end: '2031-03-03T11:00:00Z' } }] },
    );
    expect(response.status, response.text).toBe(200);
    const slots = await slotsOf(schedule);
    expect(slots.map((s) => s.start)).toEqual(['2031-03-03T09:00:00Z', '2031-03-03T11:00:00Z', '2031-03-04T09:00:00Z', '2031-03-04T10:00:00Z', '2031-03-04T11:00:00Z']);
    expect((await request(clinic.server, 'GET', `Slot/${slots[0].id}`)).body.overbooked).toBe(true);
  });

  it('is described by an OperationDefinition the server serves, and listed on Schedule in the CapabilityStatement', async () => {
    const definition = await request(clinic.server, 'GET', 'OperationDefinition/generate-slots');
    expect(definition.status).toBe(200);
    expect(definition.body).toMatchObject({
      url: 'http://fhir.test/fhir/OperationDefinition/generate-slots',
      code: 'generate-slots',
      resource: ['Schedule'],
      instance: true,
      type: false,
      system: false,
    });
    expect(definition.body.parameter.map((p: { name: string; use: string }) => `${p.use}:${p.name}`)).toEqual([
      'in:start', 'in:end', 'in:slot-minutes', 'in:timezone', 'in:overbooked', 'in:availableTime', 'in:notAvailable', 'out:created', 'out:existing', 'out:slot',
    ]);
    const statement = (await request(clinic.server, 'GET', 'metadata')).body;
    const operationsOf = (type: string) =>
      statement.rest[0].resource.find((r: { type: string }) => r.type === type).operation.map((o: { name: string; definition: string }) => o);
    expect(operationsOf('Schedule')).toContainEqual({ name: 'generate-slots', definition: 'http://fhir.test/fhir/OperationDefinition/generate-slots' });
    expect(operationsOf('Appointment')).toEqual(
      expect.arrayContaining([
        { name: 'find', definition: 'https://profiles.ihe.net/ITI/Scheduling/OperationDefinition/appointment-find' },
        { name: 'hold', definition: 'https://profiles.ihe.net/ITI/Scheduling/OperationDefinition/appointment-hold' },
        { name: 'book', definition: 'https://profiles.ihe.net/ITI/Scheduling/OperationDefinition/appointment-book' },
      ]),
    );
    const names = (type: string) => operationsOf(type).map((o: { name: string }) => o.name);
    expect(names('Patient')).not.toEqual(expect.arrayContaining(['find']));
    for (const name of ['find', 'hold', 'book', 'generate-slots']) expect(names('Patient')).not.toContain(name);
    expect(names('Appointment')).not.toContain('generate-slots');
  });
});
