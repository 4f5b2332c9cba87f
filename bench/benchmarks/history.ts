import type { Patient } from '@medplum/fhirtypes';
import type { Benchmark } from './context.js';

export const history: Benchmark = {
  name: 'history',
  description: 'GET Patient/id/_history?_count=100 of a patient with 100 versions',
  async run(context) {
    const id = `bench-history-${Date.now().toString(36)}`;
    for (let version = 1; version <= 100; version++) {
      const patient: Patient = {
        resourceType: 'Patient',
        id,
        name: [{ family: 'Historia', given: [`Version${version}`] }],
        telecom: [{ system: 'phone', value: `555-000-${String(version).padStart(4, '0')}` }],
        birthDate: '1970-01-01',
      };
      await context.client.send('PUT', `Patient/${id}`, patient);
    }
    const check = await context.client.getJson<{ entry?: unknown[] }>(`Patient/${id}/_history?_count=100`);
    const notes = check.entry?.length === 100 ? [] : [`expected 100 versions in the page, got ${check.entry?.length ?? 0}`];
    await context.ensureDataset();
    await context.measure({
      label: 'history, 100 versions',
      baseline: 'read',
      notes,
      next: () => ({ method: 'GET', path: `/fhir/Patient/${id}/_history?_count=100` }),
    });
  },
};
