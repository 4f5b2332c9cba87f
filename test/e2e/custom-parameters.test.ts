import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { buildOnce, fhirFetch, startServerProcess, stopAllServerProcesses, type ServerProcess } from './support/server-process.js';

const SHOE_SIZE = 'http://example.org/fhir/StructureDefinition/shoe-size';

describe('a custom SearchParameter created through one process', () => {
  let database: TestDatabase;
  let a: ServerProcess;
  let b: ServerProcess;

  beforeAll(async () => {
    await buildOnce();
    database = await createTestDatabase();
    [a, b] = await Promise.all([startServerProcess({ databaseUrl: database.url }), startServerProcess({ databaseUrl: database.url })]);
  });

  afterAll(async () => {
    await stopAllServerProcesses();
    await database?.drop();
  });

  it('applies to writes through the other process, and is searchable there', async () => {
    const created = await fhirFetch(a.baseUrl, 'POST', 'SearchParameter', {
      resourceType: 'SearchParameter',
      url: 'http://example.org/fhir/SearchParameter/patient-shoe-size',
      name: 'ShoeSize',
      status: 'active',
      description: 'Shoe size',
      code: 'shoe-size',
      base: ['Patient'],
      type: 'number',
      expression: `Patient.extension.where(url = '${SHOE_SIZE}').value.as(decimal)`,
    });
    expect(created.status).toBe(201);

    // PostgreSQL delivers the notification on commit; give the other process a moment to reload.
    let known = false;
    for (let i = 0; i < 50 && !known; i++) {
      const probe = await fhirFetch(b.baseUrl, 'GET', 'Patient?shoe-size=1', undefined, { prefer: 'handling=strict' });
      known = probe.status === 200;
      if (!known) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(known).toBe(true);

    const patient = await fhirFetch(b.baseUrl, 'POST', 'Patient', {
      resourceType: 'Patient',
      extension: [{ url: SHOE_SIZE, valueDecimal: 44 }],
    });
    expect(patient.status).toBe(201);
    for (const server of [a, b]) {
      const found = await fhirFetch(server.baseUrl, 'GET', 'Patient?shoe-size=ge43', undefined, { prefer: 'handling=strict' });
      expect(found.status).toBe(200);
      expect(found.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).toEqual([patient.body.id]);
    }
  });
});
