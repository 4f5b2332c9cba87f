import type { BundleEntry, Organization, Practitioner, Resource, Schedule, Slot } from '@medplum/fhirtypes';
import { Random } from '../lib/random.js';
import { addDays, ANCHOR_DATE } from './dates.js';
import { FAMILY_NAMES, FEMALE_GIVEN_NAMES, MALE_GIVEN_NAMES, SPECIALTIES, STREETS, CITIES } from './names.js';

export interface PoolSizes {
  practitioners: number;
  organizations: number;
  slotsPerPractitioner: number;
}

/** One practitioner per 20 patients and one organisation per 100, as a default. */
export function defaultPoolSizes(patients: number): PoolSizes {
  return {
    practitioners: Math.max(5, Math.ceil(patients / 20)),
    organizations: Math.max(2, Math.ceil(patients / 100)),
    slotsPerPractitioner: 40,
  };
}

/**
 * The resources patients share: Organizations, Practitioners, and each practitioner's Schedule with
 * its Slots (two a day, on the 20 days from the anchor date; about 60% free). Their ids are fixed
 * (`g<seed>-pr<k>`, ...) so patients' Bundles refer to them as `Practitioner/<id>` in either id mode,
 * and they are written with PUT, so that loading them twice makes new versions rather than copies.
 */
export class Pool {
  constructor(
    readonly seed: number,
    readonly sizes: PoolSizes,
  ) {}

  practitionerId(k: number): string {
    return `g${this.seed}-pr${k}`;
  }

  organizationId(k: number): string {
    return `g${this.seed}-org${k}`;
  }

  scheduleId(k: number): string {
    return `g${this.seed}-sch${k}`;
  }

  practitionerFor(patientIndex: number): string {
    return this.practitionerId(patientIndex % this.sizes.practitioners);
  }

  /** The patient's place among its practitioner's patients (0, 1, 2, ...). */
  placeWithPractitioner(patientIndex: number): number {
    return Math.floor(patientIndex / this.sizes.practitioners);
  }

  organizationFor(patientIndex: number): string {
    return this.organizationId(patientIndex % this.sizes.organizations);
  }

  get resourceCount(): number {
    const { practitioners, organizations, slotsPerPractitioner } = this.sizes;
    return organizations + practitioners * (2 + slotsPerPractitioner);
  }

  /** Every pool resource as a PUT entry, organisations first. */
  *entries(): Generator<BundleEntry> {
    for (let k = 0; k < this.sizes.organizations; k++) yield put(this.organization(k));
    for (let k = 0; k < this.sizes.practitioners; k++) {
      yield put(this.practitioner(k));
      yield put(this.schedule(k));
      yield* this.slots(k).map(put);
    }
  }

  private organization(k: number): Organization {
    const random = new Random(this.seed, 'organization', k);
    const place = random.pick(CITIES);
    return {
      resourceType: 'Organization',
      id: this.organizationId(k),
      identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: `1${random.digits(9)}` }],
      active: true,
      type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/organization-type', code: 'prov', display: 'Healthcare Provider' }] }],
      name: `${place.city} ${random.pick(['General Hospital', 'Medical Center', 'Family Practice', 'Community Clinic'])} ${k}`,
      telecom: [{ system: 'phone', value: `555-${random.digits(3)}-${random.digits(4)}` }],
      address: [{ line: [`${random.int(1, 999)} ${random.pick(STREETS)}`], city: place.city, state: 'MA', postalCode: place.postalCode, country: 'US' }],
    };
  }

  private practitioner(k: number): Practitioner {
    const random = new Random(this.seed, 'practitioner', k);
    const gender = random.chance(0.5) ? 'female' : 'male';
    return {
      resourceType: 'Practitioner',
      id: this.practitionerId(k),
      identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: `2${random.digits(9)}` }],
      active: true,
      name: [{ family: random.pick(FAMILY_NAMES), given: [random.pick(gender === 'female' ? FEMALE_GIVEN_NAMES : MALE_GIVEN_NAMES)], prefix: ['Dr.'] }],
      gender,
    };
  }

  private schedule(k: number): Schedule {
    const specialty = SPECIALTIES[k % SPECIALTIES.length];
    return {
      resourceType: 'Schedule',
      id: this.scheduleId(k),
      active: true,
      specialty: [{ coding: [{ system: 'http://snomed.info/sct', code: specialty.code, display: specialty.display }] }],
      actor: [{ reference: `Practitioner/${this.practitionerId(k)}` }],
      planningHorizon: { start: `${ANCHOR_DATE}T00:00:00Z`, end: `${addDays(ANCHOR_DATE, 28)}T00:00:00Z` },
    };
  }

  private slots(k: number): Slot[] {
    const random = new Random(this.seed, 'slots', k);
    const slots: Slot[] = [];
    for (let j = 0; j < this.sizes.slotsPerPractitioner; j++) {
      const day = addDays(ANCHOR_DATE, Math.floor(j / 2));
      const start = `${day}T${j % 2 === 0 ? '09' : '14'}:00:00Z`;
      const end = `${day}T${j % 2 === 0 ? '09' : '14'}:30:00Z`;
      slots.push({
        resourceType: 'Slot',
        id: `g${this.seed}-sl${k}-${j}`,
        schedule: { reference: `Schedule/${this.scheduleId(k)}` },
        status: random.chance(0.6) ? 'free' : 'busy',
        start,
        end,
      });
    }
    return slots;
  }
}

function put(resource: Resource): BundleEntry {
  return { resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` } };
}
