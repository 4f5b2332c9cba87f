import type { Observation, Patient } from '@medplum/fhirtypes';
import { MRN_SYSTEM } from '../generate/index.js';
import type { Benchmark, BenchContext } from './context.js';
import { explainExamples } from './explain.js';
import { createRequest, readRequest } from './workloads.js';

const JSON_BODY = { 'content-type': 'application/fhir+json' };

/** The SQL the server runs for one such request (statement count, plans), printed before the load. */
async function explainOne(context: BenchContext, name: string, label: string, path: string): Promise<string[]> {
  const notes = new Map<string, string[]>();
  await explainExamples(context.db, context.client, name, [{ label, path }], notes);
  return notes.get(label) ?? [];
}

export const read: Benchmark = {
  name: 'read',
  description: 'GET Type/id of random resources of the data set (all types)',
  async run(context) {
    const dataset = await context.ensureDataset();
    const notes = await explainOne(context, 'read', 'read by id', dataset.readTargets[0]);
    await context.measure({ label: 'read by id', baseline: 'read', notes, next: (random) => readRequest(dataset, random) });
  },
};

export const vread: Benchmark = {
  name: 'vread',
  description: 'GET Type/id/_history/1 of random resources of the data set',
  async run(context) {
    const dataset = await context.ensureDataset();
    const notes = await explainOne(context, 'vread', 'vread', `${dataset.readTargets[0]}/_history/1`);
    await context.measure({
      label: 'vread',
      baseline: 'read',
      notes,
      next: (random) => ({ method: 'GET', path: `/fhir/${random.pick(dataset.readTargets)}/_history/1` }),
    });
  },
};

export const create: Benchmark = {
  name: 'create',
  description: 'POST Observation (vital signs of a data set patient): validation, all search indexes',
  async run(context) {
    const dataset = await context.ensureDataset();
    await context.measure({ label: 'create Observation', baseline: 'insert', expect: [201], next: (random) => createRequest(dataset, random) });
  },
};

export const update: Benchmark = {
  name: 'update',
  description: "PUT Observation/id of the data set's Observations with a changed value",
  async run(context) {
    const dataset = await context.ensureDataset();
    await context.measure({
      label: 'update Observation',
      baseline: 'insert',
      expect: [200],
      next: (random) => {
        const observation: Observation = { ...random.pick(dataset.observations) };
        observation.valueQuantity = { ...(observation.valueQuantity ?? { unit: '1', system: 'http://unitsofmeasure.org', code: '1' }), value: random.int(1, 200) };
        delete observation.valueCodeableConcept;
        delete observation.valueString;
        return { method: 'PUT', path: `/fhir/Observation/${observation.id}`, body: JSON.stringify(observation), headers: JSON_BODY };
      },
    });
  },
};

export const conditionalCreate: Benchmark = {
  name: 'conditional-create',
  description: 'POST Patient with If-None-Exist: identifier=..., once matching nothing (201), once an existing patient (200)',
  async run(context) {
    const dataset = await context.ensureDataset();
    const run = Date.now().toString(36);
    let counter = 0;
    await context.measure({
      label: 'conditional create, new (201)',
      baseline: 'insert',
      expect: [201],
      next: (random) => {
        const value = `cc-${run}-${++counter}`;
        const patient: Patient = {
          resourceType: 'Patient',
          identifier: [{ system: 'urn:bench:conditional-create', value }],
          name: [{ family: random.pick(dataset.sample).family, given: ['Conditional'] }],
          gender: 'female',
          birthDate: '1980-05-17',
        };
        return {
          method: 'POST',
          path: '/fhir/Patient',
          body: JSON.stringify(patient),
          headers: { ...JSON_BODY, 'if-none-exist': `identifier=urn:bench:conditional-create|${value}` },
        };
      },
    });
    await context.measure({
      label: 'conditional create, exists (200)',
      baseline: 'read', // it finds and returns the patient: no write
      expect: [200],
      next: (random) => {
        const facts = random.pick(dataset.sample);
        const patient: Patient = { resourceType: 'Patient', identifier: [{ system: MRN_SYSTEM, value: facts.mrn }], name: [{ family: facts.family, given: [facts.given] }] };
        return {
          method: 'POST',
          path: '/fhir/Patient',
          body: JSON.stringify(patient),
          headers: { ...JSON_BODY, 'if-none-exist': `identifier=${MRN_SYSTEM}|${facts.mrn}` },
        };
      },
    });
  },
};
