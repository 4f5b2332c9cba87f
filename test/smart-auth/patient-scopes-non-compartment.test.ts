import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirRequest, type FhirTestResponse, type TestServer } from '../support/test-server.js';
import { authorizeAs, createUser, exchangeCode, pkce, registerPublicApp, startAuthServer } from './oauth-support.js';

/**
 * `patient/` scopes on types outside the Patient compartment (Practitioner, Medication,
 * Organization...): those resources are shared by every patient's record, so such a scope lets the
 * app read and search them, all of them (what the ONC (g)(10) patient launch asks for). The
 * compartment's types stay confined to the launch patient, and a `patient/` scope still writes
 * nothing outside the compartment.
 */
describe('patient/ scopes on types outside the Patient compartment', () => {
  let server: TestServer;
  const ids: Record<string, string> = {};
  let patientA: string;

  const as = (token: string, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown, headers: Record<string, string> = {}) =>
    fhirRequest(server.app, method, url, body, { authorization: `Bearer ${token}`, ...headers });
  const get = (token: string, url: string) => as(token, 'GET', url);
  /** `Type/id` of the resources in a search Bundle, sorted (OperationOutcome entries left out). */
  const entryIds = (response: FhirTestResponse): string[] => {
    expect(response.status, response.text).toBe(200);
    return (response.body.entry ?? [])
      .filter((e: { resource?: { resourceType: string } }) => e.resource?.resourceType !== 'OperationOutcome')
      .map((e: { resource: { resourceType: string; id: string } }) => `${e.resource.resourceType}/${e.resource.id}`)
      .sort();
  };
  const sorted = (...labels: string[]) => labels.map((label) => ids[label]).sort();
  const adminPost = async (label: string, body: Record<string, unknown>) => {
    const response = await fhirRequest(server.app, 'POST', `/fhir/${body.resourceType}`, body);
    expect(response.status, response.text).toBe(201);
    ids[label] = `${body.resourceType}/${response.body.id}`;
    return response.body.id as string;
  };
  /** A token of Patient A's account, launched for Patient A. */
  const patientToken = (scope: string) =>
    server.auth.tokens.issue({ sub: 'user-a', client_id: 'app', scope: `launch/patient ${scope}`, role: 'patient', fhirUser: ids.patientA, patient: patientA });
  const row = async (reference: string) => {
    const [type, id] = reference.split('/');
    const { rows } = await server.db.query(`SELECT version_id::text AS version, content FROM resource WHERE resource_type = $1 AND id = $2`, [type, id]);
    return rows[0];
  };
  const count = async (type: string) => {
    const { rows } = await server.db.query(`SELECT count(*)::int AS n FROM resource_history WHERE resource_type = $1`, [type]);
    return rows[0].n as number;
  };

  let v2: string;
  let v1: string;
  let cruds: string;
  let withoutPractitioner: string;

  beforeAll(async () => {
    server = await startAuthServer();
    await adminPost('welby', { resourceType: 'Practitioner', name: [{ family: 'Welby' }] });
    await adminPost('kildare', { resourceType: 'Practitioner', name: [{ family: 'Kildare' }] });
    await adminPost('clinic', { resourceType: 'Organization', name: 'General Clinic' });
    await adminPost('aspirin', { resourceType: 'Medication', code: { text: 'aspirin' } });
    await adminPost('insulin', { resourceType: 'Medication', code: { text: 'insulin' } });
    patientA = await adminPost('patientA', { resourceType: 'Patient', name: [{ family: 'Alpha' }] });
    await adminPost('patientB', { resourceType: 'Patient', name: [{ family: 'Bravo' }] });
    const encounter = (patient: string, practitioner: string) => ({
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      subject: { reference: ids[patient] },
      participant: [{ individual: { reference: ids[practitioner] } }],
    });
    await adminPost('encounterA', encounter('patientA', 'welby'));
    await adminPost('encounterB', encounter('patientB', 'kildare'));
    await adminPost('encounterB2', encounter('patientB', 'welby'));
    await adminPost('observationB', { resourceType: 'Observation', status: 'final', code: { text: 'weight' }, subject: { reference: ids.patientB } });
    await adminPost('prescriptionA', {
      resourceType: 'MedicationRequest',
      status: 'active',
      intent: 'order',
      medicationReference: { reference: ids.aspirin },
      subject: { reference: ids.patientA },
    });
    // A Device is one patient's (Device.patient), though R4's Patient compartment leaves it out.
    await adminPost('deviceB', { resourceType: 'Device', patient: { reference: ids.patientB }, deviceName: [{ name: 'pacemaker', type: 'user-friendly-name' }] });
    await adminPost('deviceA', { resourceType: 'Device', patient: { reference: ids.patientA }, deviceName: [{ name: 'insulin pump', type: 'user-friendly-name' }] });

    v2 = await patientToken('patient/Encounter.rs patient/Practitioner.rs patient/Medication.rs');
    v1 = await patientToken('patient/*.read');
    cruds = await patientToken('patient/*.cruds');
    withoutPractitioner = await patientToken('patient/Encounter.rs patient/Observation.rs');
  });
  afterAll(async () => server?.close());

  describe('reading and searching shared types', () => {
    it('reads any Practitioner and Medication with patient/Practitioner.rs and patient/Medication.rs', async () => {
      for (const label of ['welby', 'kildare', 'aspirin', 'insulin']) {
        const response = await get(v2, `/fhir/${ids[label]}`);
        expect(response.status, label).toBe(200);
        expect(`${response.body.resourceType}/${response.body.id}`).toBe(ids[label]);
      }
    });

    it('searches them, all of them', async () => {
      expect(entryIds(await get(v2, '/fhir/Practitioner'))).toEqual(sorted('welby', 'kildare'));
      expect(entryIds(await get(v2, '/fhir/Practitioner?name=Welby'))).toEqual([ids.welby]);
      expect(entryIds(await get(v2, '/fhir/Medication'))).toEqual(sorted('aspirin', 'insulin'));
      const total = await get(v2, '/fhir/Medication?_summary=count');
      expect(total.body.total).toBe(2);
    });

    it('does the same with SMART v1 patient/*.read, for every shared type', async () => {
      for (const label of ['welby', 'kildare', 'clinic', 'aspirin']) {
        const response = await get(v1, `/fhir/${ids[label]}`);
        expect(response.status, label).toBe(200);
        expect(response.body.id).toBe(ids[label].split('/')[1]);
      }
      expect(entryIds(await get(v1, '/fhir/Organization'))).toEqual([ids.clinic]);
      expect(entryIds(await get(v1, '/fhir?_type=Practitioner,Medication,Encounter'))).toEqual(sorted('welby', 'kildare', 'aspirin', 'insulin', 'encounterA'));
    });

    it('includes the Practitioner of its Encounters and the Medication of its MedicationRequests', async () => {
      const encounters = await get(v2, '/fhir/Encounter?_include=Encounter:participant');
      expect(entryIds(encounters)).toEqual(sorted('encounterA', 'welby'));
      const included = encounters.body.entry.find((e: { resource: { resourceType: string } }) => e.resource.resourceType === 'Practitioner');
      expect(included.search.mode).toBe('include');
      expect(entryIds(await get(v1, '/fhir/MedicationRequest?_include=MedicationRequest:medication'))).toEqual(sorted('prescriptionA', 'aspirin'));
    });

    it('follows chains to a shared type, within its own Encounters only', async () => {
      expect(entryIds(await get(v2, '/fhir/Encounter?participant.name=Welby'))).toEqual([ids.encounterA]);
      expect(entryIds(await get(v2, '/fhir/Encounter?participant:Practitioner.name=Kildare'))).toEqual([]);
    });

    it('keeps a scope’s query on a shared type (patient/Practitioner.rs?name=Welby)', async () => {
      const token = await patientToken('patient/Practitioner.rs?name=Welby');
      expect((await get(token, `/fhir/${ids.welby}`)).status).toBe(200);
      expect((await get(token, `/fhir/${ids.kildare}`)).status).toBe(404);
      expect(entryIds(await get(token, '/fhir/Practitioner'))).toEqual([ids.welby]);
    });

    it('works through a standalone patient launch asking for the (g)(10) scopes', async () => {
      const client = await registerPublicApp(server.app);
      await createUser(server, 'alpha', 'patient', ids.patientA);
      const scope = 'launch/patient openid fhirUser patient/Encounter.rs patient/Practitioner.rs patient/Medication.read';
      const { verifier, challenge } = pkce();
      const { code } = await authorizeAs(server.app, { clientId: client.client_id, scope, challenge }, 'alpha');
      const token = await exchangeCode(server.app, client.client_id, code, verifier);
      expect(token.status).toBe(200);
      expect(token.body).toMatchObject({ scope, patient: patientA });
      expect((await get(token.body.access_token, `/fhir/${ids.kildare}`)).status).toBe(200);
      expect(entryIds(await get(token.body.access_token, '/fhir/Medication?_id=' + ids.insulin.split('/')[1]))).toEqual([ids.insulin]);
      expect(entryIds(await get(token.body.access_token, '/fhir/Encounter?_include=Encounter:participant'))).toEqual(sorted('encounterA', 'welby'));
      expect((await get(token.body.access_token, `/fhir/${ids.encounterB}`)).status).toBe(404);
    });
  });

  describe('the compartment stays confined', () => {
    it('does not read another patient, nor their Encounters or Observations (404)', async () => {
      for (const token of [v1, v2, cruds]) {
        expect((await get(token, `/fhir/${ids.encounterB}`)).status).toBe(404);
        expect((await get(token, `/fhir/${ids.encounterB2}`)).status).toBe(404);
      }
      for (const token of [v1, cruds]) {
        expect((await get(token, `/fhir/${ids.patientB}`)).status).toBe(404);
        expect((await get(token, `/fhir/${ids.observationB}`)).status).toBe(404);
        expect(entryIds(await get(token, '/fhir/Observation'))).toEqual([]);
        expect(entryIds(await get(token, '/fhir/Patient'))).toEqual([ids.patientA]);
      }
      expect(entryIds(await get(v2, '/fhir/Encounter'))).toEqual([ids.encounterA]);
    });

    it('does not reach other patients’ Encounters through _revinclude or _has from a Practitioner', async () => {
      const revincluded = await get(v2, `/fhir/Practitioner?_revinclude=Encounter:participant`);
      expect(entryIds(revincluded)).toEqual(sorted('welby', 'kildare', 'encounterA'));
      // Kildare saw only Patient B: _has must not tell.
      expect(entryIds(await get(v2, '/fhir/Practitioner?_has:Encounter:participant:status=finished'))).toEqual([ids.welby]);
      expect(entryIds(await get(v2, `/fhir/Practitioner?_has:Encounter:participant:subject=${ids.patientB}`))).toEqual([]);
      expect(entryIds(await get(v2, `/fhir/Practitioner?_has:Encounter:participant:_id=${ids.encounterB.split('/')[1]}`))).toEqual([]);
    });

    it('confines types that are one patient’s though outside the compartment (Device, by Device.patient) to the launch patient', async () => {
      expect((await get(v1, `/fhir/${ids.deviceB}`)).status).toBe(404);
      expect(entryIds(await get(v1, `/fhir/Device?patient=${ids.patientB}`))).toEqual([]);
      expect((await get(v1, `/fhir/${ids.deviceA}`)).status).toBe(200);
      expect(entryIds(await get(v1, '/fhir/Device'))).toEqual([ids.deviceA]);
      expect(entryIds(await get(v1, `/fhir/Device?patient=${ids.patientA}`))).toEqual([ids.deviceA]);
    });
  });

  describe('writes to shared types stay refused', () => {
    it('cannot create a Practitioner or an Organization with patient/*.cruds (403), and nothing is written', async () => {
      const practitioners = await count('Practitioner');
      const organizations = await count('Organization');
      const created = await as(cruds, 'POST', '/fhir/Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Impostor' }] });
      expect(created.status).toBe(403);
      expect(created.body.resourceType).toBe('OperationOutcome');
      expect((await as(cruds, 'POST', '/fhir/Organization', { resourceType: 'Organization', name: 'Fake' })).status).toBe(403);
      expect(await count('Practitioner')).toBe(practitioners);
      expect(await count('Organization')).toBe(organizations);
    });

    it('cannot update, patch or delete a Practitioner it may read (403), and the row is unchanged', async () => {
      const before = await row(ids.welby);
      const id = ids.welby.split('/')[1];
      const update = await as(cruds, 'PUT', `/fhir/${ids.welby}`, { resourceType: 'Practitioner', id, name: [{ family: 'Changed' }] });
      expect(update.status).toBe(403);
      expect(update.body.resourceType).toBe('OperationOutcome');
      const patch = await as(cruds, 'PATCH', `/fhir/${ids.welby}`, JSON.stringify([{ op: 'replace', path: '/name/0/family', value: 'Changed' }]), {
        'content-type': 'application/json-patch+json',
      });
      expect(patch.status).toBe(403);
      expect((await as(cruds, 'DELETE', `/fhir/${ids.welby}`)).status).toBe(403);
      expect(await row(ids.welby)).toEqual(before);
      expect(before.content.name[0].family).toBe('Welby');
    });

    it('cannot create a Medication with patient/Medication.crs, nor update one with a read-only scope', async () => {
      const medications = await count('Medication');
      const token = await patientToken('patient/Medication.crs');
      expect((await as(token, 'POST', '/fhir/Medication', { resourceType: 'Medication', code: { text: 'placebo' } })).status).toBe(403);
      expect(await count('Medication')).toBe(medications);
      const id = ids.aspirin.split('/')[1];
      const before = await row(ids.aspirin);
      expect((await as(v2, 'PUT', `/fhir/${ids.aspirin}`, { resourceType: 'Medication', id, code: { text: 'changed' } })).status).toBe(403);
      expect(await row(ids.aspirin)).toEqual(before);
    });

    it('rolls back a transaction that creates a Practitioner beside its own data', async () => {
      const practitioners = await count('Practitioner');
      const observations = await count('Observation');
      const response = await as(cruds, 'POST', '/fhir', {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { resource: { resourceType: 'Observation', status: 'final', code: { text: 'pulse' }, subject: { reference: ids.patientA } }, request: { method: 'POST', url: 'Observation' } },
          { resource: { resourceType: 'Practitioner', name: [{ family: 'Impostor' }] }, request: { method: 'POST', url: 'Practitioner' } },
        ],
      });
      expect(response.status).toBe(403);
      expect(await count('Practitioner')).toBe(practitioners);
      expect(await count('Observation')).toBe(observations);
    });
  });

  describe('without a scope on the type', () => {
    it('still cannot read or search Practitioner (403), nor include it', async () => {
      const read = await get(withoutPractitioner, `/fhir/${ids.welby}`);
      expect(read.status).toBe(403);
      expect(read.body.resourceType).toBe('OperationOutcome');
      expect((await get(withoutPractitioner, '/fhir/Practitioner')).status).toBe(403);
      expect(entryIds(await get(withoutPractitioner, '/fhir/Encounter?_include=Encounter:participant'))).toEqual([ids.encounterA]);
      expect((await get(v2, `/fhir/${ids.clinic}`)).status).toBe(403);
    });

    it('gets nothing from patient/ scopes without a launch patient', async () => {
      const token = await server.auth.tokens.issue({ sub: 'doc', client_id: 'app', scope: 'patient/Practitioner.rs', role: 'practitioner' });
      expect((await get(token, `/fhir/${ids.welby}`)).status).toBe(403);
    });
  });
});
