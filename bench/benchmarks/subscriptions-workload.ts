import type { Appointment, Observation, Subscription } from '@medplum/fhirtypes';
import type { LoadRequest } from '../lib/load.js';

/**
 * What `bench:subscriptions` writes and subscribes to: a clinic where a few practitioners' bookings
 * are watched (each by one rest-hook and one websocket subscription) among many subscriptions that
 * watch other practitioners, patients and resource types, so the matcher weighs every write against
 * realistic, mostly non-matching subscriptions.
 */

const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';
const TOPIC = 'http://fhir-server.example/SubscriptionTopic';
const HEART_RATE = 'http://loinc.org|8867-4';

/** Practitioners whose bookings are written and watched; 10 writes/s each at 200 writes/s. */
export const WATCHED_PRACTITIONERS = 20;
/** Patients taking part in the written appointments and observations; nobody subscribes to them. */
const WRITTEN_PATIENTS = 200;

export type Channel = 'rest-hook' | 'websocket';

export interface PlannedSubscription {
  resource: Subscription;
  /** Set for the subscriptions the written bookings match, so their deliveries are measured. */
  measured?: Channel;
}

/** Names unique to one run, so a kept database's earlier data matches nothing of this run. */
export class Workload {
  private written = 0;

  constructor(
    private readonly tag: string,
    private readonly endpoint: string,
  ) {}

  private practitioner(kind: 'watched' | 'unwatched' | 'other', index: number): string {
    return `Practitioner/${this.tag}-${kind}-${index}`;
  }

  private patient(kind: 'written' | 'other', index: number): string {
    return `Patient/${this.tag}-${kind}-${index}`;
  }

  /** `count` subscriptions: a rest-hook and a websocket one per watched practitioner, the rest never matched by the writes. */
  subscriptions(count: number): PlannedSubscription[] {
    const planned: PlannedSubscription[] = [];
    for (let i = 0; i < WATCHED_PRACTITIONERS; i++) {
      const actor = `Appointment?actor=${this.practitioner('watched', i)}`;
      // Half classic, half topic-based: both rest-hook flavours are measured.
      const restHook = i % 2 === 0 ? this.classic(`${actor}&status=booked`, 'rest-hook') : this.topic('appointment-booked', actor, 'rest-hook');
      planned.push({ resource: restHook, measured: 'rest-hook' }, { resource: this.topic('appointment-booked', actor, 'websocket'), measured: 'websocket' });
    }
    for (let k = 0; planned.length < count; k++) planned.push({ resource: this.unmatched(k) });
    return planned;
  }

  /** The k-th subscription the writes never match: other practitioners, other patients, other types and statuses. */
  private unmatched(k: number): Subscription {
    const other = this.practitioner('other', k);
    const patient = this.patient('other', k);
    switch (k % 8) {
      case 0:
        return this.classic(`Appointment?actor=${other}&status=booked`, 'rest-hook');
      case 1:
        return this.topic('appointment-booked', `Appointment?actor=${other}`, 'rest-hook');
      case 2:
        return this.classic(`Observation?patient=${patient}&code=${HEART_RATE}`, 'rest-hook');
      case 3:
        // A watched practitioner's cancellations: the writes' actor matches, their status does not.
        return this.classic(`Appointment?actor=${this.practitioner('watched', k % WATCHED_PRACTITIONERS)}&status=cancelled`, 'rest-hook');
      case 4:
        return this.topic('appointment-booked', `Appointment?practitioner=${other}`, 'websocket');
      case 5:
        return this.topic('medicationrequest-created', `MedicationRequest?patient=${patient}`, 'rest-hook');
      case 6:
        return this.classic(`Encounter?patient=${patient}`, 'rest-hook');
      default:
        return this.classic(`Appointment?patient=${patient}`, 'websocket');
    }
  }

  private classic(criteria: string, type: Channel): Subscription {
    return {
      resourceType: 'Subscription',
      status: 'requested',
      reason: 'bench:subscriptions',
      criteria,
      channel: type === 'rest-hook' ? { type, endpoint: this.endpoint, payload: 'application/fhir+json' } : { type },
    };
  }

  /** `_criteria` and `_payload` (the IG's filters and payload content) are R4 JSON's extensions of primitives, which the types leave out. */
  private topic(name: string, filter: string, type: Channel): Subscription {
    return {
      resourceType: 'Subscription',
      meta: { profile: [`${BACKPORT}/backport-subscription`] },
      status: 'requested',
      reason: 'bench:subscriptions',
      criteria: `${TOPIC}/${name}`,
      _criteria: { extension: [{ url: `${BACKPORT}/backport-filter-criteria`, valueString: filter }] },
      channel: {
        type,
        ...(type === 'rest-hook' ? { endpoint: this.endpoint } : {}),
        payload: 'application/fhir+json',
        _payload: { extension: [{ url: `${BACKPORT}/backport-payload-content`, valueCode: 'id-only' }] },
      },
    } as Subscription;
  }

  /**
   * The next write, in a cycle of four: a watched practitioner's booking (twice), an unwatched
   * practitioner's booking, a heart rate. Half the writes are delivered, once by rest-hook and once
   * by websocket; every write is weighed against the Appointment or Observation subscriptions.
   */
  next(): { resource: Appointment | Observation; watched: boolean } {
    const n = this.written++;
    const patient = this.patient('written', n % WRITTEN_PATIENTS);
    switch (n % 4) {
      case 0:
      case 2:
        return { resource: this.booking(n, this.practitioner('watched', (n >> 1) % WATCHED_PRACTITIONERS), patient), watched: true };
      case 1:
        return { resource: this.booking(n, this.practitioner('unwatched', n % WATCHED_PRACTITIONERS), patient), watched: false };
      default:
        return { resource: heartRate(n, patient), watched: false };
    }
  }

  /** The next write as a request for the load generator. */
  nextRequest(): LoadRequest {
    return { method: 'POST', ...requestOf(this.next().resource) };
  }

  private booking(n: number, practitioner: string, patient: string): Appointment {
    // Every booking at its own hour: the scheduling rules refuse a practitioner two overlapping appointments.
    const start = Date.UTC(2040, 0, 1) + n * 3_600_000;
    return {
      resourceType: 'Appointment',
      status: 'booked',
      start: new Date(start).toISOString(),
      end: new Date(start + 1_800_000).toISOString(),
      participant: [
        { actor: { reference: practitioner }, status: 'accepted' },
        { actor: { reference: patient }, status: 'accepted' },
      ],
    };
  }
}

function heartRate(n: number, patient: string): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
    subject: { reference: patient },
    effectiveDateTime: new Date(Date.UTC(2040, 0, 1) + n * 60_000).toISOString(),
    valueQuantity: { value: 60 + (n % 40), unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  };
}

/** The path and body of a create. */
export function requestOf(resource: Appointment | Observation): { path: string; body: string; headers: Record<string, string> } {
  return { path: `/fhir/${resource.resourceType}`, body: JSON.stringify(resource), headers: { 'content-type': 'application/fhir+json' } };
}
