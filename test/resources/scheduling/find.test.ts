import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  create,
  createSlot,
  entries,
  expectOperationOutcome,
  freshDay,
  issueText,
  parameters,
  plus,
  request,
  startClinic,
  type Clinic,
} from './support.js';
import { fhirRequest } from '../../support/test-server.js';

/** `Appointment/$find` (IHE ITI-115): proposed appointments for free slots, never held or booked ones. */
describe('Appointment/$find', () => {
  let clinic: Clinic;

  beforeAll(async () => {
    clinic = await startClinic();
  });

  afterAll(async () => {
    await clinic.server.close();
  });

  const find = (query: string, token?: string) => request(clinic.server, 'GET', `Appointment/$find?${query}`, undefined, token);
  const slotsOf = (bundle: unknown) => entries(bundle).map((a) => a.slot[0].reference as string);

  describe('refusals', () => {
    it('needs start and end (400 naming the parameter)', async () => {
      const day = freshDay();
      for (const [query, text] of [
        [`end=${day}`, 'Parameter "start" is required'],
        [`start=${day}`, 'Parameter "end" is required'],
        [`start=${day}T10:00:00Z&end=${day}T09:00:00Z`, '"end" must be after "start"'],
        [`start=tomorrow&end=${day}`, 'Parameter "start" must be a date or a dateTime'],
        [`start=${day}T10:00:00&end=${day}T11:00:00Z`, 'Parameter "start" must be a date or a dateTime with a time zone'],
        [`start=${day}&end=${day}T23:00:00Z&practitioner=Patient/1`, 'Parameter "practitioner" must reference a Practitioner'],
        [`start=${day}&end=${day}T23:00:00Z&_count=-1`, '_count'],
      ]) {
        const response = await find(query);
        expectOperationOutcome(response, 400);
        expect(issueText(response)).toContain(text);
      }
    });

    it('needs an access token with some scope on Appointment (403), and a token at all (401)', async () => {
      const token = await clinic.server.auth.tokens.issue({ sub: 'x', client_id: 'obs-app', scope: 'system/Observation.rs' });
      const day = freshDay();
      const response = await find(`start=${day}&end=${day}T23:00:00Z`, token);
      expectOperationOutcome(response, 403);
      expect(issueText(response)).toContain('scope on Appointment');
      const anonymous = await fhirRequest(clinic.server.app, 'GET', `/fhir/Appointment/$find?start=${day}&end=${day}T23:00:00Z`, undefined, { authorization: '' });
      expect(anonymous.status).toBe(401);
    });

    it('is an Appointment operation at type level only', async () => {
      expectOperationOutcome(await request(clinic.server, 'GET', 'Patient/$find?start=2031-01-01&end=2031-01-02'), 404);
      expectOperationOutcome(await request(clinic.server, 'GET', '$find?start=2031-01-01&end=2031-01-02'), 404);
      const put = await request(clinic.server, 'PUT', 'Appointment/$find', parameters());
      expect(put.status).toBe(405);
    });
  });

  it('offers each free slot as a proposed Appointment, soonest first, with a total; never held, booked or blocked ones', async () => {
    const day = freshDay();
    const free1 = await createSlot(clinic, `${day}T09:00:00Z`);
    const free2 = await createSlot(clinic, `${day}T08:00:00Z`);
    const held = await createSlot(clinic, `${day}T10:00:00Z`);
    const booked = await createSlot(clinic, `${day}T11:00:00Z`);
    await createSlot(clinic, `${day}T12:00:00Z`, { status: 'busy-unavailable' });
    await createSlot(clinic, `${day}T13:00:00Z`, { status: 'entered-in-error' });
    await createSlot(clinic, `${day}T14:00:00Z`, { status: 'busy', overbooked: true });
    const outside = await createSlot(clinic, `${day}T23:30:00Z`);

    // Hold one and book one, each through the operations a client would use.
    const proposals = entries((await find(`start=${day}&end=${day}T23:00:00Z&patient-reference=Patient/${clinic.patient}`)).body);
    const proposalFor = (slot: string) => proposals.find((p) => p.slot[0].reference === `Slot/${slot}`);
    const hold = await request(clinic.server, 'POST', 'Appointment/$hold', parameters({ name: 'appointment-resource', resource: proposalFor(held) }));
    expect(hold.status, hold.text).toBe(201);
    const book = await request(clinic.server, 'POST', 'Appointment/$book', parameters({ name: 'appointment-resource', resource: proposalFor(booked) }));
    expect(book.status, book.text).toBe(201);

    const response = await find(`start=${day}&end=${day}T23:00:00Z&patient-reference=Patient/${clinic.patient}`);
    expect(response.status, response.text).toBe(200);
    expect(response.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 2 });
    expect(slotsOf(response.body)).toEqual([`Slot/${free2}`, `Slot/${free1}`]);
    expect(slotsOf(response.body)).not.toContain(`Slot/${outside}`);
    const [first] = response.body.entry;
    expect(first.fullUrl).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
    expect(first.search).toEqual({ mode: 'match' });
    expect(first.resource).toEqual({
      resourceType: 'Appointment',
      status: 'proposed',
      serviceType: [{ coding: [{ system: 'http://snomed.info/sct', code: '11429006', display: 'Consultation' }] }],
      specialty: [{ coding: [{ system: 'http://snomed.info/sct', code: '394814009', display: 'General practice' }] }],
      start: `${day}T08:00:00Z`,
      end: `${day}T08:30:00Z`,
      slot: [{ reference: `Slot/${free2}` }],
      participant: [
        { actor: { reference: `Patient/${clinic.patient}` }, required: 'required', status: 'needs-action' },
        { actor: { reference: `Practitioner/${clinic.practitioner}` }, required: 'required', status: 'needs-action' },
      ],
    });
    // Proposals are not stored: nothing was created by $find.
    const stored = await request(clinic.server, 'GET', `Appointment?slot=Slot/${free2}`);
    expect(stored.body.total).toBe(0);
  });

  it('limits the entries to _count while the total counts every free slot; works with POST and Parameters', async () => {
    const day = freshDay();
    for (let hour = 8; hour < 13; hour++) await createSlot(clinic, `${day}T${String(hour).padStart(2, '0')}:00:00Z`);
    const limited = await find(`start=${day}&end=${plus(`${day}T00:00:00Z`, 24 * 60)}&_count=2`);
    expect(limited.body.total).toBe(5);
    expect(entries(limited.body).map((a) => a.start)).toEqual([`${day}T08:00:00Z`, `${day}T09:00:00Z`]);

    // IHE parameters that do not narrow the search here are said to be ignored, in an outcome entry.
    const unused = await find(`start=${day}&end=${day}T23:00:00Z&_count=1&organization=Organization/1&reason=http://snomed.info/sct|1`);
    expect(unused.body.total).toBe(5);
    const outcome = unused.body.entry.find((e: { search: { mode: string } }) => e.search.mode === 'outcome').resource;
    expect(outcome.issue.map((i: { severity: string; diagnostics: string }) => [i.severity, i.diagnostics])).toEqual([
      ['warning', 'Parameter "organization" is not used to narrow the search on this server; it was ignored'],
      ['warning', 'Parameter "reason" is not used to narrow the search on this server; it was ignored'],
    ]);

    const posted = await request(
      clinic.server,
      'POST',
      'Appointment/$find',
      parameters(
        { name: 'start', valueDateTime: `${day}T09:30:00Z` },
        { name: 'end', valueDateTime: `${day}T12:00:00Z` },
        { name: 'practitioner', valueReference: { reference: `Practitioner/${clinic.practitioner}` } },
      ),
    );
    expect(posted.status, posted.text).toBe(200);
    expect(entries(posted.body).map((a) => a.start)).toEqual([`${day}T10:00:00Z`, `${day}T11:00:00Z`]);
  });

  it('filters by practitioner, location, specialty and visit type', async () => {
    const day = freshDay();
    const location = await create(clinic.server, { resourceType: 'Location', name: 'Room 2' });
    const otherSchedule = await create(clinic.server, {
      resourceType: 'Schedule',
      actor: [{ reference: `Practitioner/${clinic.otherPractitioner}` }, { reference: `Location/${location}` }],
    });
    const mine = await createSlot(clinic, `${day}T09:00:00Z`, {
      specialty: [{ coding: [{ system: 'http://snomed.info/sct', code: '394814009' }] }],
      serviceType: [{ coding: [{ system: 'http://snomed.info/sct', code: '11429006' }] }],
    });
    const theirs = await createSlot(clinic, `${day}T09:00:00Z`, {
      specialty: [{ coding: [{ system: 'http://snomed.info/sct', code: '394579002' }] }],
    }, 30, otherSchedule);
    const range = `start=${day}&end=${day}T23:00:00Z`;
    expect(slotsOf((await find(`${range}&practitioner=Practitioner/${clinic.practitioner}`)).body)).toEqual([`Slot/${mine}`]);
    expect(slotsOf((await find(`${range}&practitioner=Practitioner/${clinic.otherPractitioner}`)).body)).toEqual([`Slot/${theirs}`]);
    expect(slotsOf((await find(`${range}&location-reference=Location/${location}`)).body)).toEqual([`Slot/${theirs}`]);
    expect(slotsOf((await find(`${range}&practitioner=Practitioner/${clinic.practitioner}&location-reference=Location/${location}`)).body)).toEqual([]);
    expect(slotsOf((await find(`${range}&specialty=http://snomed.info/sct|394579002`)).body)).toEqual([`Slot/${theirs}`]);
    expect(slotsOf((await find(`${range}&visit-type=http://snomed.info/sct|11429006`)).body)).toEqual([`Slot/${mine}`]);
    const both = await find(`${range}&practitioner=Practitioner/${clinic.practitioner},Practitioner/${clinic.otherPractitioner}`);
    expect(slotsOf(both.body).sort()).toEqual([`Slot/${mine}`, `Slot/${theirs}`].sort());
    // The other schedule's proposals name its actors.
    const proposal = entries((await find(`${range}&location-reference=Location/${location}`)).body)[0];
    expect(proposal.participant.map((p: { actor: { reference: string } }) => p.actor.reference)).toEqual([
      `Practitioner/${clinic.otherPractitioner}`,
      `Location/${location}`,
    ]);
  });

  it('does not offer slots in the past', async () => {
    const past = new Date(Date.now() - 3 * 3_600_000);
    past.setUTCMinutes(0, 0, 0);
    const slot = await createSlot(clinic, past.toISOString().replace('.000Z', 'Z'));
    const response = await find(`start=${past.toISOString().slice(0, 10)}&end=${new Date(Date.now() + 60_000).toISOString()}`);
    expect(slotsOf(response.body)).not.toContain(`Slot/${slot}`);
  });

  it('offers a slot again once its hold is cancelled', async () => {
    const day = freshDay();
    const slot = await createSlot(clinic, `${day}T09:00:00Z`);
    const proposal = entries((await find(`start=${day}&end=${day}T23:00:00Z&patient=Patient/${clinic.patient}`)).body)[0];
    const hold = await request(clinic.server, 'POST', 'Appointment/$hold', parameters({ name: 'appointment-resource', resource: proposal }));
    expect(hold.status, hold.text).toBe(201);
    expect(slotsOf((await find(`start=${day}&end=${day}T23:00:00Z`)).body)).toEqual([]);
    const held = entries(hold.body)[0];
    const cancel = await request(clinic.server, 'PUT', `Appointment/${held.id}`, { ...held, status: 'cancelled', cancelationReason: { text: 'changed my mind' } });
    expect(cancel.status, cancel.text).toBe(200);
    expect(slotsOf((await find(`start=${day}&end=${day}T23:00:00Z`)).body)).toEqual([`Slot/${slot}`]);
  });

  it('answers a patient with proposals for that patient, and refuses to look for another patient', async () => {
    const day = freshDay();
    await createSlot(clinic, `${day}T09:00:00Z`);
    const mine = await find(`start=${day}&end=${day}T23:00:00Z`, clinic.patientToken);
    expect(mine.status, mine.text).toBe(200);
    expect(mine.body.total).toBe(1);
    expect(entries(mine.body)[0].participant[0].actor.reference).toBe(`Patient/${clinic.patient}`);
    const other = await find(`start=${day}&end=${day}T23:00:00Z&patient-reference=Patient/${clinic.otherPatient}`, clinic.patientToken);
    expectOperationOutcome(other, 403);
    // The patient cannot search Slots themselves: Slots are outside the patient's compartment.
    const slots = await fhirRequest(clinic.server.app, 'GET', `/fhir/Slot?start=ge${day}`, undefined, bearer(clinic.patientToken));
    expect(slots.status).toBe(200);
    expect(slots.body.total).toBe(0);
  });
});
