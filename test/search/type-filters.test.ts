import { afterAll, beforeAll, describe, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { createAll, createResource, expectMatches, LOINC, q, type Ids } from './values-support.js';

/**
 * Search expressions that pick one type of a choice element with FHIRPath's `as(type)` function
 * (`Condition.onset.as(string)`, `value.as(CodeableConcept)` in Observation's composites) index only
 * values of that type: "if the input is of the given type, returns it, otherwise the result is
 * empty" (fhirpath.html#functions).
 */

let server: TestServer;
let conditions: Ids;
let observations: Ids;

beforeAll(async () => {
  server = await startTestServer();
  const patient = await createResource(server, { resourceType: 'Patient', name: [{ family: 'Onset' }] });
  const condition = (onset: Record<string, unknown>) => ({
    resourceType: 'Condition',
    subject: { reference: `Patient/${patient.id}` },
    code: { text: 'asthma' },
    ...onset,
  });
  conditions = await createAll(server, {
    onsetText: condition({ onsetString: '2019 in childhood' }),
    onsetDateTime: condition({ onsetDateTime: '2019-03-04' }),
    onsetAge: condition({ onsetAge: { value: 12, unit: 'a', system: 'http://unitsofmeasure.org', code: 'a' } }),
  });
  const observation = (value: Record<string, unknown>) => ({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: LOINC, code: '11332-4' }] }, ...value });
  observations = await createAll(server, {
    narrative: observation({ valueString: 'alert' }),
    coded: observation({ valueCodeableConcept: { coding: [{ code: 'alert' }] } }),
    dated: observation({ valueDateTime: '2019-03-04' }),
  });
});

afterAll(async () => {
  await server?.close();
});

describe('as(type) in search expressions', () => {
  it('Condition onset-info (onset.as(string)) is the onset written as text, not a date', async () => {
    await expectMatches(server, '/fhir/Condition?onset-info=2019', 'Condition', conditions, ['onsetText']);
  });

  it('Condition onset-date and onset-age read only their own kind of onset', async () => {
    await expectMatches(server, '/fhir/Condition?onset-date=2019', 'Condition', conditions, ['onsetDateTime']);
    await expectMatches(server, '/fhir/Condition?onset-age=12', 'Condition', conditions, ['onsetAge']);
  });

  it('code-value-concept reads a CodeableConcept value, not a string; code-value-date a dateTime (FHIRPath DateTime)', async () => {
    await expectMatches(server, `/fhir/Observation?code-value-concept=${q('11332-4$alert')}`, 'Observation', observations, ['coded']);
    await expectMatches(server, `/fhir/Observation?code-value-string=${q('11332-4$alert')}`, 'Observation', observations, ['narrative']);
    await expectMatches(server, `/fhir/Observation?code-value-date=${q('11332-4$2019-03')}`, 'Observation', observations, ['dated']);
  });
});
