import type { Observation } from '@medplum/fhirtypes';
import type { LoadRequest } from '../lib/load.js';
import type { Random } from '../lib/random.js';
import type { Dataset } from './dataset.js';

/**
 * Requests shared by our benchmarks and the baseline's, so that both do the same work:
 * the same rows read, the same bodies written.
 */

/** GET of a random resource of the sampled patients (every type, in their proportions). */
export function readRequest(dataset: Dataset, random: Random): LoadRequest {
  return { method: 'GET', path: `/fhir/${random.pick(dataset.readTargets)}` };
}

const VITALS = [
  { code: '8302-2', display: 'Body Height', unit: 'cm', low: 140, high: 200 },
  { code: '29463-7', display: 'Body Weight', unit: 'kg', low: 40, high: 130 },
  { code: '8867-4', display: 'Heart rate', unit: '/min', low: 50, high: 110 },
  { code: '9279-1', display: 'Respiratory rate', unit: '/min', low: 10, high: 24 },
  { code: '39156-5', display: 'Body Mass Index', unit: 'kg/m2', low: 17, high: 40 },
] as const;

/** A vital-sign Observation of a sampled patient, as an app or a device would post it. */
export function newObservation(dataset: Dataset, random: Random): Observation {
  const patient = random.pick(dataset.sample);
  const vital = random.pick(VITALS);
  const day = new Date(Date.UTC(2024, 0, 1) + random.int(0, 700) * 86_400_000 + random.int(0, 86_399) * 1000).toISOString();
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs', display: 'vital-signs' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: vital.code, display: vital.display }], text: vital.display },
    subject: { reference: `Patient/${patient.id}` },
    effectiveDateTime: day,
    issued: day,
    valueQuantity: { value: Math.round((vital.low + random.next() * (vital.high - vital.low)) * 10) / 10, unit: vital.unit, system: 'http://unitsofmeasure.org', code: vital.unit },
  };
}

export function createRequest(dataset: Dataset, random: Random): LoadRequest {
  return { method: 'POST', path: '/fhir/Observation', body: JSON.stringify(newObservation(dataset, random)), headers: { 'content-type': 'application/fhir+json' } };
}
