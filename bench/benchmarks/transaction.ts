import type { Bundle, BundleEntry, Encounter, Patient } from '@medplum/fhirtypes';
import type { Random } from '../lib/random.js';
import type { Benchmark } from './context.js';
import type { Dataset } from './dataset.js';
import { newObservation } from './workloads.js';

/** A new patient, an encounter and 98 observations, linked by `urn:uuid:` references: 100 POST entries. */
function transaction(dataset: Dataset, random: Random): Bundle {
  const patientUrl = `urn:uuid:${random.uuid()}`;
  const encounterUrl = `urn:uuid:${random.uuid()}`;
  const template = random.pick(dataset.sample);
  const patient: Patient = {
    resourceType: 'Patient',
    identifier: [{ system: 'urn:bench:transaction', value: random.uuid() }],
    name: [{ family: template.family, given: [template.given] }],
    gender: template.gender as Patient['gender'],
    birthDate: template.birthDate,
  };
  const encounter: Encounter = {
    resourceType: 'Encounter',
    status: 'finished',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
    subject: { reference: patientUrl },
    period: { start: '2024-05-01T09:00:00Z', end: '2024-05-01T09:30:00Z' },
  };
  const entries: BundleEntry[] = [
    { fullUrl: patientUrl, resource: patient, request: { method: 'POST', url: 'Patient' } },
    { fullUrl: encounterUrl, resource: encounter, request: { method: 'POST', url: 'Encounter' } },
  ];
  for (let i = 0; i < 98; i++) {
    const observation = newObservation(dataset, random);
    observation.subject = { reference: patientUrl };
    observation.encounter = { reference: encounterUrl };
    entries.push({ fullUrl: `urn:uuid:${random.uuid()}`, resource: observation, request: { method: 'POST', url: 'Observation' } });
  }
  return { resourceType: 'Bundle', type: 'transaction', entry: entries };
}

export const transactionBundle: Benchmark = {
  name: 'transaction',
  description: 'POST a 100-entry transaction Bundle (Patient, Encounter, 98 Observations with urn:uuid references)',
  async run(context) {
    const dataset = await context.ensureDataset();
    await context.measure({
      label: 'transaction of 100 entries',
      baseline: 'insert',
      unitsPerRequest: 100,
      expect: [200],
      requestsPerConnection: Number(process.env.BENCH_TRANSACTIONS_PER_CONNECTION ?? 4),
      next: (random) => ({
        method: 'POST',
        path: '/fhir',
        body: JSON.stringify(transaction(dataset, random)),
        headers: { 'content-type': 'application/fhir+json', prefer: 'return=minimal' },
      }),
    });
  },
};
