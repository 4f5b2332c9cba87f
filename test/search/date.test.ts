import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, startTestServer, type TestServer } from '../support/test-server.js';
import { allBut, createAll, expectSearchError, q, searchLabels, sorted, type Ids, type Json } from './support.js';

/**
 * date parameters (search.html#date, search.html#prefix). Every date is a range: `2024` is the
 * whole year, `2024-03-15T10:30:00Z` that second, an instant its millisecond; a Period runs from the
 * start of its start to the end of its end, a missing end (or start) being open; a Timing is only
 * its outer limits ("the specified scheduling details are ignored and only the outer limits matter").
 * The search value is a range too, and the prefixes compare the two ranges:
 *   eq  the search range fully contains the target range
 *   ne  it does not
 *   gt  the range above the search value intersects the target range (the target ends after it)
 *   lt  the range below the search value intersects the target range (the target starts before it)
 *   ge  gt, or eq;   le  lt, or eq
 *   sa  the target does not overlap the search range and lies in the range above it (starts after its end)
 *   eb  the target does not overlap the search range and lies in the range below it (ends before its start)
 *   ap  the ranges overlap, after the search range is widened (10% of the gap between now and the value)
 * A time without a zone is the server's local time; this server (and this test) runs in UTC.
 *
 * Ranges below are written half-open, [start, end).
 */

const SUITE = 'http://example.org/date-suite';

let server: TestServer;
let main: Ids;
let approximate: Ids;
let encounters: Ids;
let requests: Ids;

const observation = (suite: string, effective: Json): Json => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: SUITE, code: suite }] },
  ...effective,
});

/** Observation.effective[x] (the `date` parameter) in every form the parameter reads. */
const mainFixtures: Record<string, Json> = {
  year: observation('main', { effectiveDateTime: '2024' }), //                       [2024-01-01, 2025-01-01)
  month: observation('main', { effectiveDateTime: '2024-03' }), //                   [2024-03-01, 2024-04-01)
  day: observation('main', { effectiveDateTime: '2024-03-15' }), //                  [2024-03-15, 2024-03-16)
  second: observation('main', { effectiveDateTime: '2024-03-15T10:30:00+02:00' }), // [08:30:00Z, 08:30:01Z) on 03-15
  instant: observation('main', { effectiveInstant: '2024-03-15T10:30:00.500Z' }), //  [10:30:00.500Z, 10:30:00.501Z) on 03-15
  period: observation('main', { effectivePeriod: { start: '2024-03-10', end: '2024-03-20' } }), // [2024-03-10, 2024-03-21)
  openEnd: observation('main', { effectivePeriod: { start: '2024-03-15T12:00:00Z' } }), //  [2024-03-15T12:00Z, ∞)
  openStart: observation('main', { effectivePeriod: { end: '2024-03-14' } }), //           (-∞, 2024-03-15)
  // Outer limits of the events: [2024-03-01T09:00:00Z, 2024-03-31T09:00:01Z).
  timing: observation('main', { effectiveTiming: { event: ['2024-03-01T09:00:00Z', '2024-03-31T09:00:00Z'] } }),
  last2023: observation('main', { effectiveDateTime: '2023-12-31T23:59:59Z' }), //   [2023-12-31T23:59:59Z, 2024-01-01)
  first2025: observation('main', { effectiveDateTime: '2025-01-01' }), //            [2025-01-01, 2025-01-02)
  none: observation('main', {}),
};

/** The labels with a date: what `ne` and `:missing=false` draw from. */
const DATED = Object.keys(mainFixtures).filter((label) => label !== 'none');

/** A day `days` from today (UTC), as YYYY-MM-DD. */
function dayFromToday(days: number): string {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + days)).toISOString().slice(0, 10);
}

/**
 * `ap` is relative to now, so its fixtures are too: 200 days ahead, the gap is 200 days and the
 * search range widens by about 20 days each side. Targets 10 or 12 days away are approximately the
 * same day; 40 days away they are not.
 */
const AP_BASE = 200;
const approximateFixtures: Record<string, Json> = {
  apSame: observation('ap', { effectiveDateTime: dayFromToday(AP_BASE) }),
  apTenDaysAfter: observation('ap', { effectiveDateTime: dayFromToday(AP_BASE + 10) }),
  apTwelveDaysBefore: observation('ap', { effectiveDateTime: dayFromToday(AP_BASE - 12) }),
  apFortyDaysAfter: observation('ap', { effectiveDateTime: dayFromToday(AP_BASE + 40) }),
  apFortyDaysBefore: observation('ap', { effectiveDateTime: dayFromToday(AP_BASE - 40) }),
  // A period that ends 30 days before and one that starts 15 days after.
  apPeriodBefore: observation('ap', { effectivePeriod: { start: dayFromToday(AP_BASE - 90), end: dayFromToday(AP_BASE - 30) } }),
  apPeriodAfter: observation('ap', { effectivePeriod: { start: dayFromToday(AP_BASE + 15) } }),
};

const encounter = (period?: Json): Json => ({
  resourceType: 'Encounter',
  status: 'finished',
  class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
  ...(period ? { period } : {}),
});

beforeAll(async () => {
  server = await startTestServer();
  main = await createAll(server, mainFixtures);
  approximate = await createAll(server, approximateFixtures);
  encounters = await createAll(server, {
    visit: encounter({ start: '2024-01-01T08:00:00Z', end: '2024-01-01T17:00:00Z' }), // within 2024-01-01
    ongoing: encounter({ start: '2024-01-01T08:00:00Z' }), //                            [2024-01-01T08:00Z, ∞)
    ended2023: encounter({ end: '2023-12-31' }), //                                      (-∞, 2024-01-01)
    noPeriod: encounter(),
  });
  const { subject } = await createAll(server, { subject: { resourceType: 'Patient' } });
  const serviceRequest = (occurrence: Json): Json => ({
    resourceType: 'ServiceRequest',
    status: 'active',
    intent: 'order',
    subject: { reference: `Patient/${subject}` },
    ...occurrence,
  });
  const daily = { frequency: 1, period: 1, periodUnit: 'd' };
  requests = await createAll(server, {
    // Every day in May: [2024-05-01, 2024-06-01).
    bounded: serviceRequest({ occurrenceTiming: { repeat: { ...daily, boundsPeriod: { start: '2024-05-01', end: '2024-05-31' } } } }),
    // Two events: [2024-06-10T09:00Z, 2024-06-20T09:00:01Z).
    events: serviceRequest({ occurrenceTiming: { event: ['2024-06-10T09:00:00Z', '2024-06-20T09:00:00Z'] } }),
    // An event before its bounds: the outer limits are [2024-04-01, 2024-05-01).
    eventAndBounds: serviceRequest({
      occurrenceTiming: { event: ['2024-04-01'], repeat: { ...daily, boundsPeriod: { start: '2024-04-10', end: '2024-04-30' } } },
    }),
    // Only a frequency: no limits at all, nothing to search.
    unbounded: serviceRequest({ occurrenceTiming: { repeat: daily } }),
    onDay: serviceRequest({ occurrenceDateTime: '2024-05-15' }),
    period: serviceRequest({ occurrencePeriod: { start: '2024-05-20', end: '2024-06-15' } }), // [2024-05-20, 2024-06-16)
  });
});

afterAll(async () => {
  await server?.close();
});

/** Observations of the main suite matching `date=<value>`. */
const date = (value: string) => searchLabels(server, main, `/fhir/Observation?code=${q(`${SUITE}|main`)}&date=${q(value)}`);
const encounterDate = (query: string) => searchLabels(server, encounters, `/fhir/Encounter?${query}`);
const occurrence = (value: string) => searchLabels(server, requests, `/fhir/ServiceRequest?occurrence=${q(value)}`);

/** What every prefix gives for one search value: the expected labels by prefix. */
type Expectations = Record<'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb', string[]>;

async function expectPrefixes(value: string, expected: Omit<Expectations, 'ne' | 'ge' | 'le'>): Promise<void> {
  // ne is the complement of eq among the resources that have a date; ge and le are unions.
  const all: Expectations = {
    ...expected,
    ne: DATED.filter((label) => !expected.eq.includes(label)),
    ge: [...new Set([...expected.eq, ...expected.gt])],
    le: [...new Set([...expected.eq, ...expected.lt])],
  };
  for (const [prefix, labels] of Object.entries(all)) {
    expect(await date(`${prefix}${value}`), `date=${prefix}${value}`).toEqual(sorted(labels));
  }
  expect(await date(value), `date=${value} (no prefix is eq)`).toEqual(sorted(expected.eq));
}

describe('date: every prefix against targets of every precision', () => {
  it('a year: 2024 = [2024-01-01, 2025-01-01)', async () => {
    await expectPrefixes('2024', {
      eq: ['year', 'month', 'day', 'second', 'instant', 'period', 'timing'],
      gt: ['openEnd', 'first2025'], // the year itself ends exactly where the search range ends: not above it
      lt: ['openStart', 'last2023'],
      sa: ['first2025'], // openEnd starts inside 2024
      eb: ['last2023'], // its last second ends exactly at 2024-01-01
    });
  });

  it('a month: 2024-03 = [2024-03-01, 2024-04-01)', async () => {
    await expectPrefixes('2024-03', {
      eq: ['month', 'day', 'second', 'instant', 'period', 'timing'],
      gt: ['year', 'openEnd', 'first2025'],
      lt: ['year', 'openStart', 'last2023'],
      sa: ['first2025'],
      eb: ['last2023'],
    });
  });

  it('a day: 2024-03-15 = [2024-03-15, 2024-03-16)', async () => {
    await expectPrefixes('2024-03-15', {
      eq: ['day', 'second', 'instant'],
      // openEnd starts at noon on the 15th and runs on: it extends above the day.
      gt: ['year', 'month', 'period', 'openEnd', 'timing', 'first2025'],
      // openStart ends at the start of the 15th: entirely below.
      lt: ['year', 'month', 'period', 'openStart', 'timing', 'last2023'],
      // The timing's last event is after the 15th, but its first is before: it does not start after.
      sa: ['first2025'],
      eb: ['openStart', 'last2023'],
    });
  });

  it('a second with a zone: 2024-03-15T10:30:00Z = [10:30:00Z, 10:30:01Z)', async () => {
    await expectPrefixes('2024-03-15T10:30:00Z', {
      eq: ['instant'], // 10:30:00.500Z; "second" is 10:30 at +02:00, i.e. 08:30Z
      gt: ['year', 'month', 'day', 'period', 'openEnd', 'timing', 'first2025'],
      lt: ['year', 'month', 'day', 'second', 'period', 'openStart', 'timing', 'last2023'],
      sa: ['openEnd', 'first2025'],
      eb: ['second', 'openStart', 'last2023'],
    });
  });

  it('an instant: 2024-03-15T10:30:00.500Z is one millisecond', async () => {
    expect(await date('2024-03-15T10:30:00.500Z')).toEqual(['instant']);
    expect(await date('2024-03-15T10:30:00.501Z')).toEqual([]);
    expect(await date('sa2024-03-15T10:30:00.499Z')).toEqual(sorted(['instant', 'openEnd', 'first2025']));
    expect(await date('eb2024-03-15T10:30:00.501Z')).toEqual(sorted(['instant', 'second', 'openStart', 'last2023']));
  });

  it('time zones: the same instant written in another zone', async () => {
    expect(await date('2024-03-15T10:30:00+02:00')).toEqual(['second']);
    expect(await date('2024-03-15T08:30:00Z')).toEqual(['second']);
    expect(await date('2024-03-15T05:30:00-03:00')).toEqual(['second']);
    expect(await date('2024-03-15T12:30:00.500+02:00')).toEqual(['instant']);
    // A `+` sent unencoded arrives as a space: it is read as the `+` the client meant.
    expect(await searchLabels(server, main, `/fhir/Observation?code=${q(`${SUITE}|main`)}&date=2024-03-15T10:30:00+02:00`)).toEqual(['second']);
    expect(await date('2024-03-15T10:30:00 02:00')).toEqual(['second']);
  });

  it('partial search values: minutes, with and without zone', async () => {
    // [10:30Z, 10:31Z): the instant only.
    expect(await date('2024-03-15T10:30Z')).toEqual(['instant']);
    // Without a zone: the server's zone, UTC here.
    expect(await date('2024-03-15T10:30')).toEqual(['instant']);
    expect(await date('2024-03-15T08:30')).toEqual(['second']);
    // [10:00, 10:01): nothing lies within it; the later ones start after it.
    expect(await date('2024-03-15T10:00')).toEqual([]);
    expect(await date('sa2024-03-15T10:00')).toEqual(sorted(['instant', 'openEnd', 'first2025']));
    expect(await date('eb2024-03-15T10:00')).toEqual(sorted(['second', 'openStart', 'last2023']));
  });

  it('a Period against a search range inside it is neither eq nor sa/eb, but gt and lt', async () => {
    // period = [2024-03-10, 2024-03-21)
    expect(await date('2024-03-12')).toEqual([]);
    expect(await date('gt2024-03-12')).toContain('period');
    expect(await date('lt2024-03-12')).toContain('period');
    expect(await date('sa2024-03-09')).toContain('period');
    expect(await date('sa2024-03-10')).not.toContain('period');
    expect(await date('eb2024-03-21')).toContain('period');
    expect(await date('eb2024-03-20')).not.toContain('period');
  });

  it('open ends reach to the end (or the beginning) of time', async () => {
    expect(await date('gt2999')).toEqual(['openEnd']);
    expect(await date('lt1900')).toEqual(['openStart']);
    expect(await date('sa1900')).toEqual(allBut(main, 'none', 'openStart'));
    expect(await date('eb2999')).toEqual(allBut(main, 'none', 'openEnd'));
  });

  it('a Timing is only its outer limits, [2024-03-01T09:00Z, 2024-03-31T09:00:01Z)', async () => {
    // The day of one event does not contain the whole schedule.
    expect(await date('2024-03-01')).toEqual([]);
    expect(await date('2024-03-31')).toEqual([]);
    expect(await date('2024-03')).toContain('timing');
    // Its first event is before the 15th, so the schedule does not start after it; it does not end before the 20th.
    expect(await date('sa2024-03-15')).not.toContain('timing');
    expect(await date('eb2024-03-20')).not.toContain('timing');
    expect(await date('sa2024-02-29')).toContain('timing');
    expect(await date('eb2024-04-01')).toContain('timing');
  });

  it('values are ORed, repeated parameters ANDed', async () => {
    expect(await date('2023,2025')).toEqual(sorted(['last2023', 'first2025']));
    expect(await date('2024-03-15,eb2024')).toEqual(sorted(['day', 'second', 'instant', 'last2023']));
    // ge2024-03-10 (reaches above 2024-03-11) and le2024-03-20 (reaches below 2024-03-20): every
    // target that overlaps [2024-03-11, 2024-03-20), the open periods included.
    const range = await searchLabels(server, main, `/fhir/Observation?code=${q(`${SUITE}|main`)}&date=ge2024-03-10&date=le2024-03-20`);
    expect(range).toEqual(sorted(['year', 'month', 'day', 'second', 'instant', 'period', 'timing', 'openEnd', 'openStart']));
    // sa/eb bound the whole target: within [2024-03-11, 2024-03-20).
    const within = await searchLabels(server, main, `/fhir/Observation?code=${q(`${SUITE}|main`)}&date=sa2024-03-10&date=eb2024-03-20`);
    expect(within).toEqual(sorted(['day', 'second', 'instant']));
    const disjoint = await searchLabels(server, main, `/fhir/Observation?code=${q(`${SUITE}|main`)}&date=sa2024&date=eb2024`);
    expect(disjoint).toEqual([]);
  });

  it(':missing', async () => {
    expect(await date('2024')).not.toContain('none');
    const missing = (value: string) => searchLabels(server, main, `/fhir/Observation?code=${q(`${SUITE}|main`)}&date:missing=${value}`);
    expect(await missing('true')).toEqual(['none']);
    expect(await missing('false')).toEqual(sorted(DATED));
  });
});

describe('date: ap (approximately)', () => {
  it('matches targets within about 10% of the gap between now and the value', async () => {
    const found = await searchLabels(server, approximate, `/fhir/Observation?code=${q(`${SUITE}|ap`)}&date=ap${dayFromToday(AP_BASE)}`);
    expect(found).toEqual(sorted(['apSame', 'apTenDaysAfter', 'apTwelveDaysBefore', 'apPeriodAfter']));
  });

  it('a value long ago widens by more: ap2024 reaches every target near 2024', async () => {
    // The gap from now back to 2024 is well over a year, so the widening is over a month: each
    // target of the main suite (all within a day of 2024, or open towards it) overlaps.
    expect(await date('ap2024')).toEqual(sorted(DATED));
    expect(await date('ap1900')).toEqual(['openStart']);
  });
});

describe('date on Encounter.period (Encounter?date=)', () => {
  it('closed, open-ended and open-started periods', async () => {
    expect(await encounterDate('date=2024-01-01')).toEqual(['visit']);
    expect(await encounterDate('date=2024')).toEqual(['visit']);
    expect(await encounterDate('date=ne2024-01-01')).toEqual(sorted(['ongoing', 'ended2023']));
    expect(await encounterDate('date=gt2024-01-01')).toEqual(['ongoing']);
    expect(await encounterDate('date=ge2024-01-01')).toEqual(sorted(['visit', 'ongoing']));
    expect(await encounterDate('date=lt2024-01-01')).toEqual(['ended2023']);
    expect(await encounterDate('date=le2024-01-01')).toEqual(sorted(['visit', 'ended2023']));
    expect(await encounterDate('date=sa2023')).toEqual(sorted(['visit', 'ongoing']));
    expect(await encounterDate('date=eb2024')).toEqual(['ended2023']);
    expect(await encounterDate('date=eb2024-01-01T08:00:00Z')).toEqual(['ended2023']);
    // Both start at 08:00, so neither lies within that second.
    expect(await encounterDate(`date=${q('2024-01-01T08:00:00Z')}`)).toEqual([]);
    // ge/le are not "starts at or after" / "ends at or before": the ongoing encounter extends above
    // 08:00:01 (gt) and below 17:00 (lt), so it meets both. Only sa/eb bound the whole period.
    expect(await encounterDate(`date=${q('ge2024-01-01T08:00:00Z')}&date=${q('le2024-01-01T17:00:00Z')}`)).toEqual(['ongoing', 'visit']);
    expect(await encounterDate(`date=${q('sa2024-01-01T07:59:59Z')}&date=${q('eb2024-01-01T17:00:01Z')}`)).toEqual(['visit']);
    expect(await encounterDate('date=gt2030')).toEqual(['ongoing']);
    expect(await encounterDate('date:missing=true')).toEqual(['noPeriod']);
  });
});

describe('date on Timing (ServiceRequest?occurrence=)', () => {
  it('a Timing is searched as its outer limits: events and repeat.boundsPeriod', async () => {
    expect(await occurrence('2024-05')).toEqual(sorted(['bounded', 'onDay']));
    expect(await occurrence('2024-06')).toEqual(['events']);
    expect(await occurrence('2024-04')).toEqual(['eventAndBounds']);
    // One day within the schedule does not contain the schedule.
    expect(await occurrence('2024-06-10')).toEqual([]);
    expect(await occurrence('2024-05-10')).toEqual([]);
    expect(await occurrence('2024-05-15')).toEqual(['onDay']);
    // eventAndBounds starts on 2024-04-01 (its event), before its bounds.
    expect(await occurrence('sa2024-04-05')).toEqual(sorted(['bounded', 'events', 'onDay', 'period']));
    expect(await occurrence('eb2024-05-01')).toEqual(['eventAndBounds']);
    expect(await occurrence('ge2024-06-15')).toEqual(['events']);
    expect(await occurrence('le2024-05-10')).toEqual(sorted(['bounded', 'eventAndBounds']));
    // A day inside the schedule: the schedule extends both above and below it.
    expect(await occurrence('gt2024-05-10')).toEqual(sorted(['bounded', 'events', 'onDay', 'period']));
  });

  it('a Timing without events or bounds has no date', async () => {
    expect(await searchLabels(server, requests, '/fhir/ServiceRequest?occurrence:missing=true')).toEqual(['unbounded']);
  });
});

describe('_lastUpdated', () => {
  it('compares the instant of the last update with every prefix', async () => {
    const basic = (label: string): Json => ({ resourceType: 'Basic', code: { text: label } });
    const first = await createAll(server, { early: basic('early') });
    await new Promise((resolve) => setTimeout(resolve, 25));
    const between = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 25));
    const second = await createAll(server, { late: basic('late') });
    const ids: Ids = { ...first, ...second };
    const read = async (id: string) => (await fhirRequest(server.app, 'GET', `/fhir/Basic/${id}`)).body.meta.lastUpdated as string;
    const early = await read(ids.early);
    const late = await read(ids.late);
    // The server's own SubscriptionTopics are Basic resources too, written at start-up: left out by their code.
    const notTopics = `code:not=${encodeURIComponent('http://hl7.org/fhir/fhir-types|SubscriptionTopic')}`;
    const search = (value: string) => searchLabels(server, ids, `/fhir/Basic?_lastUpdated=${q(value)}&${notTopics}`);

    expect(await search(`gt${between}`)).toEqual(['late']);
    expect(await search(`sa${between}`)).toEqual(['late']);
    expect(await search(`lt${between}`)).toEqual(['early']);
    expect(await search(`eb${between}`)).toEqual(['early']);
    expect(await search(between)).toEqual([]);
    expect(await search(`ne${between}`)).toEqual(['early', 'late']);
    // meta.lastUpdated is the instant itself (to the millisecond): eq finds exactly that resource.
    expect(await search(early)).toEqual(['early']);
    expect(await search(`ne${early}`)).toEqual(['late']);
    expect(await search(`ge${early}`)).toEqual(['early', 'late']);
    expect(await search(`le${early}`)).toEqual(['early']);
    expect(await search(`gt${early}`)).toEqual(['late']);
    expect(await search(`lt${late}`)).toEqual(['early']);
    expect(await search(`eb${late}`)).toEqual(['early']);
    expect(await search(`sa${early}`)).toEqual(['late']);
    // Partial values: both were updated today, and after 2020.
    expect(await search(early.slice(0, 10))).toEqual(['early', 'late']);
    expect(await search('gt2020-01-01T00:00:00Z')).toEqual(['early', 'late']);
    expect(await search('lt2020')).toEqual([]);
    expect(await search(`${early},${late}`)).toEqual(['early', 'late']);
  });

  it('refuses an invalid date, naming _lastUpdated', async () => {
    await expectSearchError(server, '/fhir/Basic?_lastUpdated=2024-13', '"_lastUpdated"');
    await expectSearchError(server, '/fhir/Basic?_lastUpdated=xx2024', '"_lastUpdated"');
  });
});

describe('date: invalid values are refused with 400, naming the parameter', () => {
  it.each([
    ['2024-13', 'no month 13'],
    ['2024-00', 'no month 0'],
    ['2024-02-30', 'February has no 30th'],
    ['2023-02-29', 'not a leap year'],
    ['2024-04-31', 'April has 30 days'],
    ['2024-02-30T10:00:00Z', 'February has no 30th, with a time'],
    ['2024-03-15T24:00:00Z', 'no hour 24'],
    ['2024-03-15T10:60Z', 'no minute 60'],
    ['2024-03-15T10:00:00+15:00', 'no zone beyond +14:00'],
    ['2024-03-15T10:00:00+02:60', 'no zone minute 60'],
    ['xx2024', 'an unknown prefix'],
    ['ge2024-1', 'a one-digit month'],
    ['2024-3-15', 'a one-digit month'],
    ['20240315', 'no separators'],
    ['2024-03-15T10', 'an hour without minutes'],
    ['today', 'not a date'],
    ['ge', 'a prefix without a value'],
  ])('date=%s (%s)', async (value) => {
    await expectSearchError(server, `/fhir/Observation?date=${q(value)}`, '"date"', value);
  });

  it('accepts the 29th of February of a leap year', async () => {
    expect(await date('2024-02-29')).toEqual([]);
  });

  it('refuses a modifier that dates do not have', async () => {
    await expectSearchError(server, '/fhir/Observation?date:exact=2024', 'exact');
  });
});
