import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateResource } from '../../src/fhir/validation/index.js';
import { AuditLog, authenticationEvent, interactionEvent } from '../../src/smart-auth/audit/index.js';
import { fhirRequest, startTestServer, type TestServer } from '../support/test-server.js';

/** Waits for the background audit writer (reads are recorded after the fact). */
async function auditEvents(server: TestServer, query: string, atLeast = 1) {
  for (let i = 0; i < 50; i++) {
    const response = await fhirRequest(server.app, 'GET', `/fhir/AuditEvent?${query}&_count=100`);
    if ((response.body.entry?.length ?? 0) >= atLeast) return response.body.entry.map((e: { resource: unknown }) => e.resource);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return [];
}

describe('AuditEvents', () => {
  let server: TestServer;
  let practitionerToken: string;
  beforeAll(async () => {
    server = await startTestServer();
    practitionerToken = await server.auth.tokens.issue({ sub: 'doc-1', client_id: 'ehr-app', scope: 'user/*.cruds', role: 'practitioner', fhirUser: 'Practitioner/doc' });
  });
  afterAll(async () => server?.close());

  it('audits a write with agent, entity, outcome and source', async () => {
    const created = await fhirRequest(server.app, 'POST', '/fhir/Patient', { resourceType: 'Patient' }, { authorization: `Bearer ${practitionerToken}` });
    expect(created.status).toBe(201);
    await server.auth.audit?.flush();
    const { rows } = await server.db.query(
      `SELECT content FROM resource WHERE resource_type = 'AuditEvent' AND content->'entity'->0->'what'->>'reference' = $1`,
      [`Patient/${created.body.id}`],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].content).toMatchObject({
      type: { code: 'rest' },
      subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'create' }],
      action: 'C',
      outcome: '0',
      agent: [{ requestor: true, who: { reference: 'Practitioner/doc' }, altId: 'doc-1' }],
      source: { observer: { display: 'fhir-server' } },
    });
  });

  it('leaves no audit record of a write that was rolled back, but records the refusal', async () => {
    const response = await fhirRequest(server.app, 'POST', '/fhir/Patient', { resourceType: 'Patient', birthDate: 'nope' }, { authorization: `Bearer ${practitionerToken}` });
    expect(response.status).toBe(400);
    const events = await auditEvents(server, 'outcome=4&subtype=create');
    expect(events.length).toBeGreaterThanOrEqual(1);
  });

  it('audits a transaction Bundle with one record per kind of change, naming every resource it changed', async () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:1b7e4c1e-0000-4000-8000-000000000001', resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
        { fullUrl: 'urn:uuid:1b7e4c1e-0000-4000-8000-000000000002', resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Patient', id: 'audited-put' }, request: { method: 'PUT', url: 'Patient/audited-put' } },
      ],
    };
    await fhirRequest(server.app, 'PUT', '/fhir/Patient/audited-put', { resourceType: 'Patient', id: 'audited-put' });
    const response = await fhirRequest(server.app, 'POST', '/fhir', bundle, { authorization: `Bearer ${practitionerToken}` });
    expect(response.status).toBe(200);
    const [first, second] = response.body.entry.map((e: { response: { location: string } }) => e.response.location.replace(/^.*\/fhir\//, '').split('/_history')[0]);
    await server.auth.audit?.flush();

    const { rows } = await server.db.query(
      `SELECT content FROM resource WHERE resource_type = 'AuditEvent' AND content @> $1::jsonb`,
      [JSON.stringify({ entity: [{ what: { reference: first } }] })],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].content).toMatchObject({ subtype: [{ code: 'create' }], action: 'C', agent: [{ who: { reference: 'Practitioner/doc' } }] });
    expect(rows[0].content.entity.map((e: { what: { reference: string } }) => e.what.reference).sort()).toEqual([first, second].sort());

    const updates = await auditEvents(server, 'entity=Patient/audited-put&subtype=update&agent=Practitioner/doc');
    expect(updates).toHaveLength(1);
    expect(updates[0].entity).toEqual([{ what: { reference: 'Patient/audited-put' } }]);
  });

  it('splits the record of a transaction that changes more than 200 resources into records of 200, naming each resource once', async () => {
    const entry = Array.from({ length: 201 }, () => ({ resource: { resourceType: 'Basic', code: { text: 'audit-split' } }, request: { method: 'POST', url: 'Basic' } }));
    const response = await fhirRequest(server.app, 'POST', '/fhir', { resourceType: 'Bundle', type: 'transaction', entry }, { authorization: `Bearer ${practitionerToken}` });
    expect(response.status).toBe(200);
    const created = response.body.entry.map((e: { response: { location: string } }) => e.response.location.replace(/^.*\/fhir\//, '').split('/_history')[0]);
    await server.auth.audit?.flush();

    const { rows } = await server.db.query<{ references: string[] }>(
      `SELECT ARRAY(SELECT e->'what'->>'reference' FROM jsonb_array_elements(content->'entity') e) AS references
         FROM resource WHERE resource_type = 'AuditEvent' AND content->'entity'->0->'what'->>'reference' = ANY($1)`,
      [created],
    );
    expect(rows.map((row) => row.references.length).sort((a, b) => a - b)).toEqual([1, 200]);
    expect(rows.flatMap((row) => row.references).sort()).toEqual([...created].sort());
  });

  it('keeps the record of a change in its own transaction until it is written as an AuditEvent, by whichever process gets there', async () => {
    // What a process that committed a change and died before writing its record leaves behind.
    const event = interactionEvent({ interaction: 'delete', requester: { clientId: 'crashed-app' }, status: 200, references: ['Patient/left-behind'] });
    await server.db.query('INSERT INTO audit_outbox (event) VALUES ($1)', [JSON.stringify(event)]);
    await server.auth.audit?.flush();
    const [record] = await auditEvents(server, 'entity=Patient/left-behind');
    expect(record).toMatchObject({ action: 'D', subtype: [{ code: 'delete' }], agent: [{ who: { identifier: { value: 'crashed-app' } } }] });
    expect((await server.db.query('SELECT count(*)::int AS n FROM audit_outbox')).rows[0].n).toBe(0);
  });

  it('writes each record left in the outbox once when two processes take records at the same time', async () => {
    const references = Array.from({ length: 6 }, (_, i) => `Patient/left-by-crash-${i}`);
    for (const reference of references) {
      const event = interactionEvent({ interaction: 'update', requester: { clientId: 'crashed-app' }, status: 200, references: [reference] });
      await server.db.query('INSERT INTO audit_outbox (event) VALUES ($1)', [JSON.stringify(event)]);
    }
    const otherProcess = new AuditLog(server.store, { error: () => undefined });
    await Promise.all([server.auth.audit?.flush(), otherProcess.flush(), server.auth.audit?.flush()]);
    await otherProcess.flush();

    const { rows } = await server.db.query<{ reference: string }>(
      `SELECT e->'what'->>'reference' AS reference FROM resource, jsonb_array_elements(content->'entity') e
        WHERE resource_type = 'AuditEvent' AND e->'what'->>'reference' LIKE 'Patient/left-by-crash-%'`,
    );
    expect(rows.map((row) => row.reference).sort()).toEqual(references);
    expect((await server.db.query('SELECT count(*)::int AS n FROM audit_outbox')).rows[0].n).toBe(0);
  });

  it('vacuums the outbox when it sweeps it, so that the rows drains deleted are not walked past again', async () => {
    await server.db.query(`INSERT INTO audit_outbox (event) SELECT $1::jsonb FROM generate_series(1, 500)`, [
      JSON.stringify(interactionEvent({ interaction: 'read', requester: { clientId: 'sweeper-test' }, status: 200, references: ['Patient/swept'] })),
    ]);
    // Dead rows are counted in the table's pages (pgstattuple): the statistics views get a deleting
    // session's counts up to a second late, after the vacuum's. A vacuum may also have to leave rows
    // a snapshot taken before the deletes still sees; the next sweep's vacuum removes them.
    await server.db.query('CREATE EXTENSION IF NOT EXISTS pgstattuple');
    let dead = -1;
    for (let sweep = 0; sweep < 5 && dead !== 0; sweep++) {
      await server.auth.audit?.sweep();
      dead = (await server.db.query<{ dead: number }>(`SELECT dead_tuple_count::int AS dead FROM pgstattuple('audit_outbox')`)).rows[0].dead;
    }
    expect(dead).toBe(0);
    expect((await server.db.query('SELECT count(*)::int AS n FROM audit_outbox')).rows[0].n).toBe(0);
  });

  it('keeps the outbox pages a vacuum empties: truncating them would lock out every write meanwhile', async () => {
    await server.db.query(`INSERT INTO audit_outbox (event) SELECT $1::jsonb FROM generate_series(1, 500)`, [
      JSON.stringify(interactionEvent({ interaction: 'read', requester: { clientId: 'sweeper-test' }, status: 200, references: ['Patient/kept'] })),
    ]);
    await server.auth.audit?.sweep();
    expect((await server.db.query('SELECT count(*)::int AS n FROM audit_outbox')).rows[0].n).toBe(0);
    const { rows } = await server.db.query<{ pages: number }>(`SELECT pg_relation_size('audit_outbox')::int / current_setting('block_size')::int AS pages`);
    expect(rows[0].pages).toBeGreaterThan(0);
  });

  it('audits reads and searches (after the response), and admins can search the records', async () => {
    const patient = await fhirRequest(server.app, 'POST', '/fhir/Patient', { resourceType: 'Patient' });
    await fhirRequest(server.app, 'GET', `/fhir/Patient/${patient.body.id}`, undefined, { authorization: `Bearer ${practitionerToken}` });
    await fhirRequest(server.app, 'GET', '/fhir/Patient?gender=female', undefined, { authorization: `Bearer ${practitionerToken}` });
    const reads = await auditEvents(server, `entity=Patient/${patient.body.id}&subtype=read`);
    expect(reads[0]).toMatchObject({ action: 'R', outcome: '0', agent: [{ who: { reference: 'Practitioner/doc' } }] });
    const searches = await auditEvents(server, 'subtype=search-type');
    const queries = searches.flatMap((e: { entity?: { query?: string }[] }) => (e.entity ?? []).map((entity) => Buffer.from(entity.query ?? '', 'base64').toString()));
    expect(queries).toContain('gender=female');
  });

  it('shows audit records only to tokens with a scope on AuditEvent', async () => {
    const narrow = await server.auth.tokens.issue({ sub: 'doc-2', client_id: 'ehr-app', scope: 'user/Patient.rs', role: 'practitioner' });
    const response = await fhirRequest(server.app, 'GET', '/fhir/AuditEvent', undefined, { authorization: `Bearer ${narrow}` });
    expect(response.status).toBe(403);
  });
});

describe('the AuditEvents the server builds', () => {
  it('are valid R4 AuditEvents (they are stored without being validated again)', () => {
    const interaction = interactionEvent({ interaction: 'read', requester: { clientId: 'app', address: '127.0.0.1' }, status: 200, references: ['Patient/1'] });
    const search = interactionEvent({ interaction: 'search-type', requester: {}, status: 400, query: 'name=x' });
    const login = authenticationEvent({ action: 'failed-login', requester: { clientId: 'app', username: 'someone', address: '::1' }, status: 401 });
    for (const event of [interaction, search, login]) {
      expect(validateResource(event).filter((issue) => issue.severity === 'error')).toEqual([]);
    }
  });
});
