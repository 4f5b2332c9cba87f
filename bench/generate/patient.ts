import type { Appointment, Bundle, BundleEntry, HumanName, Identifier, Patient, Quantity, Resource } from '@medplum/fhirtypes';
import { Random } from '../lib/random.js';
import { CITIES, FAMILY_NAMES, FEMALE_GIVEN_NAMES, MALE_GIVEN_NAMES, STREETS } from './names.js';
import type { Pool } from './pool.js';
import { addDays, ANCHOR_DATE, shiftDateString } from './dates.js';
import type { Template } from './templates.js';

/** How generated resources get their ids (see README): the server's (POST) or ours (PUT). */
export type IdMode = 'server' | 'client';

/** The system of the medical record numbers we give patients: `Patient?identifier=${MRN_SYSTEM}|${mrn}`. */
export const MRN_SYSTEM = 'http://hospital.smarthealthit.org';

/** What a benchmark needs to know about a generated patient to query for it. */
export interface PatientFacts {
  index: number;
  /** `Patient/<id>` in client-id mode; in server-id mode the server assigns it (find it by `mrn`). */
  id?: string;
  mrn: string;
  family: string;
  given: string;
  gender: string;
  birthDate?: string;
  practitionerId: string;
  /** Client-id mode: the ids of the patient's resources by type. */
  idsByType: Record<string, string[]>;
  /** `system|code` of each Condition and Observation code, with how often it occurs. */
  conditionCodes: string[];
  observationCodes: Map<string, number>;
  resources: number;
}

export interface GeneratedPatient {
  bundle: Bundle;
  facts: PatientFacts;
}

const URN_UUID = 'urn:uuid:';
const UUID_PATTERN = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const DATE_START = /^\d{4}-\d{2}-\d{2}/;

/**
 * Makes patient `index` from a template: every UUID renewed (ids, `urn:uuid:` references and the
 * identifiers that repeat them), every date shifted by the same number of days, new names,
 * identifiers, phone and address, measured values varied by a few percent; the template's own
 * Practitioners and Organizations replaced by references to the shared pool; Appointments added.
 */
export class PatientGenerator {
  constructor(
    private readonly seed: number,
    private readonly templates: Template[],
    private readonly pool: Pool,
    private readonly ids: IdMode,
    private readonly appointmentsPerPatient: number,
  ) {}

  generate(index: number): GeneratedPatient {
    const random = new Random(this.seed, 'patient', index);
    const template = this.templates[random.int(0, this.templates.length - 1)];
    const shiftDays = random.int(-3650, 1825);
    const practitionerId = this.pool.practitionerFor(index);
    const organizationId = this.pool.organizationFor(index);
    const newUuids = new Map<string, string>();
    const renew = (old: string) => {
      const key = old.toLowerCase();
      let fresh = newUuids.get(key);
      if (!fresh) newUuids.set(key, (fresh = random.uuid()));
      return fresh;
    };
    // The template's Practitioners and Organizations become the pool's: one practitioner and one
    // organisation per patient, shared with other patients, as in a real population.
    const pooled = new Map<string, string>();
    for (const [uuid, type] of template.typeOfUuid) {
      if (type === 'Practitioner') pooled.set(uuid, `Practitioner/${practitionerId}`);
      if (type === 'Organization') pooled.set(uuid, `Organization/${organizationId}`);
    }
    const reference = (oldUuid: string): string => {
      const pooledReference = pooled.get(oldUuid);
      if (pooledReference) return pooledReference;
      const type = template.typeOfUuid.get(oldUuid);
      if (this.ids === 'client' && type) return `${type}/${renew(oldUuid)}`;
      return URN_UUID + renew(oldUuid);
    };
    const transformString = (text: string): string => {
      if (text.startsWith(URN_UUID) && text.length === URN_UUID.length + 36) return reference(text.slice(URN_UUID.length));
      if (DATE_START.test(text)) return shiftDateString(text, shiftDays);
      if (text.length >= 36 && text.includes('-')) return text.replace(UUID_PATTERN, renew);
      return text;
    };
    const transform = (value: unknown): unknown => {
      if (typeof value === 'string') return transformString(value);
      if (Array.isArray(value)) return value.map(transform);
      if (value && typeof value === 'object') {
        const out: Record<string, unknown> = {};
        for (const [key, child] of Object.entries(value)) out[key] = transform(child);
        return out;
      }
      return value;
    };

    const facts: PatientFacts = {
      index,
      mrn: `MRN-${this.seed}-${String(index).padStart(7, '0')}`,
      family: '',
      given: '',
      gender: 'unknown',
      practitionerId,
      idsByType: {},
      conditionCodes: [],
      observationCodes: new Map(),
      resources: 0,
    };
    const entries: BundleEntry[] = [];
    let patientReference = '';
    for (const templateEntry of template.entries) {
      const original = templateEntry.resource as Resource;
      if (original.resourceType === 'Practitioner' || original.resourceType === 'Organization') continue;
      const resource = transform(original) as Resource;
      const id = renew(original.id ?? templateEntry.fullUrl?.slice(URN_UUID.length) ?? random.uuid());
      if (resource.resourceType === 'Patient') {
        this.personalise(resource, random, facts);
        patientReference = this.ids === 'client' ? `Patient/${id}` : URN_UUID + id;
        if (this.ids === 'client') facts.id = id;
      } else if (resource.resourceType === 'Observation') {
        varyQuantity(resource.valueQuantity, random);
        for (const component of resource.component ?? []) varyQuantity(component.valueQuantity, random);
        countCode(facts.observationCodes, resource.code?.coding?.[0]);
      } else if (resource.resourceType === 'Condition') {
        const coding = resource.code?.coding?.[0];
        if (coding?.code) facts.conditionCodes.push(`${coding.system ?? ''}|${coding.code}`);
      }
      entries.push(this.entry(resource, id, facts));
    }
    const firstAppointment = this.pool.placeWithPractitioner(index) * this.appointmentsPerPatient;
    for (let i = 0; i < this.appointmentsPerPatient; i++) {
      const appointment = appointmentFor(random, patientReference, practitionerId, firstAppointment + i);
      entries.push(this.entry(appointment, random.uuid(), facts));
    }
    facts.resources = entries.length;
    return { bundle: { resourceType: 'Bundle', type: 'transaction', entry: entries }, facts };
  }

  private entry(resource: Resource, id: string, facts: PatientFacts): BundleEntry {
    const type = resource.resourceType;
    if (this.ids === 'client') {
      resource.id = id;
      (facts.idsByType[type] ??= []).push(id);
      return { resource, request: { method: 'PUT', url: `${type}/${id}` } };
    }
    delete resource.id;
    return { fullUrl: URN_UUID + id, resource, request: { method: 'POST', url: type } };
  }

  /** A new person: name, identifiers, phone, address; the template keeps the clinical story. */
  private personalise(patient: Patient, random: Random, facts: PatientFacts): void {
    const givenNames = patient.gender === 'female' ? FEMALE_GIVEN_NAMES : MALE_GIVEN_NAMES;
    facts.family = random.pick(FAMILY_NAMES);
    facts.given = random.pick(givenNames);
    facts.gender = patient.gender ?? 'unknown';
    facts.birthDate = patient.birthDate;
    const name: HumanName = { use: 'official', family: facts.family, given: [facts.given] };
    if (random.chance(0.3)) name.given?.push(random.pick(givenNames));
    const prefix = patient.name?.[0]?.prefix;
    if (prefix) name.prefix = prefix;
    patient.name = [name];
    patient.identifier = (patient.identifier ?? []).map((identifier) => personalIdentifier(identifier, random, facts.mrn));
    patient.telecom = [{ system: 'phone', value: `555-${random.digits(3)}-${random.digits(4)}`, use: 'home' }];
    const place = random.pick(CITIES);
    patient.address = [
      { line: [`${random.int(1, 999)} ${random.pick(STREETS)}`], city: place.city, state: 'Massachusetts', postalCode: place.postalCode, country: 'US' },
    ];
    for (const extension of patient.extension ?? []) {
      if (extension.url.endsWith('patient-mothersMaidenName')) extension.valueString = `${random.pick(FEMALE_GIVEN_NAMES)} ${random.pick(FAMILY_NAMES)}`;
    }
  }
}

function personalIdentifier(identifier: Identifier, random: Random, mrn: string): Identifier {
  const type = identifier.type?.coding?.[0]?.code;
  if (type === 'MR') return { ...identifier, value: mrn };
  if (type === 'SS') return { ...identifier, value: `999-${random.digits(2)}-${random.digits(4)}` };
  if (type === 'DL') return { ...identifier, value: `S99${random.digits(6)}` };
  if (type === 'PPN') return { ...identifier, value: `X${random.digits(8)}X` };
  return identifier;
}

function varyQuantity(quantity: Quantity | undefined, random: Random): void {
  if (typeof quantity?.value !== 'number') return;
  quantity.value = Math.round(quantity.value * (0.95 + random.next() * 0.1) * 100) / 100;
}

function countCode(counts: Map<string, number>, coding: { system?: string; code?: string } | undefined): void {
  if (!coding?.code) return;
  const key = `${coding.system ?? ''}|${coding.code}`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

const APPOINTMENT_TYPES = [
  { code: 'ROUTINE', display: 'Routine appointment - default if not valued' },
  { code: 'FOLLOWUP', display: 'A follow up visit from a previous appointment' },
  { code: 'CHECKUP', display: 'A routine check-up, such as an annual physical' },
] as const;

/** Half-hour appointment times a practitioner has: 08:00 to 16:30 on each day from a year before the anchor date to two months after. */
const HALF_HOURS_A_DAY = 18;
const APPOINTMENT_DAYS = 426;
/** A step coprime with the number of times, so that consecutive numbers land on scattered, distinct times. */
const TIME_STEP = 1237;

/**
 * The `n`th appointment time of a practitioner: distinct for each n (below 7,668), because the server
 * refuses to double-book a practitioner; scattered over the days and hours.
 */
function appointmentTime(n: number): { day: number; start: Date } {
  const time = (n * TIME_STEP) % (HALF_HOURS_A_DAY * APPOINTMENT_DAYS);
  const day = Math.floor(time / HALF_HOURS_A_DAY) - 365;
  const halfHour = time % HALF_HOURS_A_DAY;
  const clock = `${String(8 + Math.floor(halfHour / 2)).padStart(2, '0')}:${halfHour % 2 ? '30' : '00'}`;
  return { day, start: new Date(`${addDays(ANCHOR_DATE, day)}T${clock}:00Z`) };
}

/**
 * The practitioner's `n`th appointment, with this patient, within a year before and two months
 * after the anchor date: past ones fulfilled (some no-shows and cancellations), future ones mostly booked.
 */
function appointmentFor(random: Random, patientReference: string, practitionerId: string, n: number): Appointment {
  const { day, start } = appointmentTime(n);
  const end = new Date(start.getTime() + 30 * 60_000);
  const roll = random.next();
  const status: Appointment['status'] =
    day >= 0 ? (roll < 0.85 ? 'booked' : 'cancelled') : roll < 0.8 ? 'fulfilled' : roll < 0.9 ? 'noshow' : 'cancelled';
  const type = random.pick(APPOINTMENT_TYPES);
  return {
    resourceType: 'Appointment',
    status,
    appointmentType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0276', code: type.code, display: type.display }] },
    description: type.display,
    start: start.toISOString(),
    end: end.toISOString(),
    minutesDuration: 30,
    participant: [
      { actor: { reference: patientReference }, required: 'required', status: 'accepted' },
      { actor: { reference: `Practitioner/${practitionerId}` }, required: 'required', status: 'accepted' },
    ],
  };
}
