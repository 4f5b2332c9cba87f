import { afterAll, beforeAll, describe, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { createAll, expectMatches, expectSearchError, LOINC, q, UCUM, type Fixture, type Ids } from './values-support.js';

/**
 * composite parameters (https://hl7.org/fhir/R4/search.html#composite): single values of the
 * component parameters joined with `$`, which must all match within the same element (the
 * Observation itself, one Observation.component, one Group.characteristic, one MolecularSequence.variant);
 * a literal `$` in a value is escaped as `\$` (#escaping).
 */

let server: TestServer;

const SNOMED = 'http://snomed.info/sct';
const ACME = 'http://acme.org/codes';

const loinc = (code: string) => ({ coding: [{ system: LOINC, code }] });
const mmHg = (value: number) => ({ value, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' });
const observation = (code: Record<string, unknown>, extra: Record<string, unknown>): Fixture => ({ resourceType: 'Observation', status: 'final', code, ...extra });
const bloodPressure = (systolic: number, diastolic: number) =>
  observation(loinc('85354-9'), {
    component: [
      { code: loinc('8480-6'), valueQuantity: mmHg(systolic) },
      { code: loinc('8462-4'), valueQuantity: mmHg(diastolic) },
    ],
  });

let observations: Ids;
let groups: Ids;
let sequences: Ids;

beforeAll(async () => {
  server = await startTestServer();
  observations = await createAll(server, {
    bp120over85: bloodPressure(120, 85),
    bp95over60: bloodPressure(95, 60),
    systolic140: observation(loinc('8480-6'), { valueQuantity: mmHg(140) }),
    systolic125: observation(loinc('8480-6'), { valueQuantity: mmHg(125) }),
    diastolic90: observation(loinc('8462-4'), { valueQuantity: mmHg(90) }),
    potassium5_6: observation(loinc('2823-3'), { valueQuantity: { value: 5.6, system: UCUM, code: 'mmol/L' } }),
    potassium4800umol: observation(loinc('2823-3'), { valueQuantity: { value: 4800, system: UCUM, code: 'umol/L' } }),
    bloodGroupA: observation(loinc('883-9'), { valueCodeableConcept: { coding: [{ system: SNOMED, code: '112144000' }] } }),
    bloodGroupO: observation(loinc('883-9'), { valueCodeableConcept: { coding: [{ system: SNOMED, code: '165743006' }] } }),
    onsetMay2020: observation(loinc('21112-8'), { valueDateTime: '2020-05-04' }),
    firstHalf2021: observation(loinc('21112-8'), { valuePeriod: { start: '2021-01-01', end: '2021-06-30' } }),
    paidCash: observation({ coding: [{ system: ACME, code: 'payment' }] }, { valueString: 'cash $100 paid' }),
    paidCard: observation({ coding: [{ system: ACME, code: 'payment' }] }, { valueString: 'Card' }),
    dollarCode: observation({ coding: [{ system: ACME, code: 'a$b' }] }, { valueString: 'dollar in the code' }),
  });
  const characteristic = (code: string, value: string) => ({ code: { coding: [{ code }] }, valueCodeableConcept: { coding: [{ code: value }] }, exclude: false });
  groups = await createAll(server, {
    mixedAdults: { resourceType: 'Group', type: 'person', actual: true, characteristic: [characteristic('gender', 'mixed'), characteristic('age-group', 'adult')] },
    maleChildren: { resourceType: 'Group', type: 'person', actual: true, characteristic: [characteristic('gender', 'male'), characteristic('age-group', 'child')] },
  });
  const chromosome = (code: string) => ({ coordinateSystem: 1, chromosome: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/chromosome-human', code }] } });
  sequences = await createAll(server, {
    chr1: {
      resourceType: 'MolecularSequence',
      coordinateSystem: 1,
      referenceSeq: { ...chromosome('1'), genomeBuild: 'GRCh38' },
      variant: [{ start: 100, end: 200 }, { start: 500, end: 600 }],
    },
    chr2: { resourceType: 'MolecularSequence', coordinateSystem: 1, referenceSeq: { ...chromosome('2'), genomeBuild: 'GRCh38' }, variant: [{ start: 100, end: 200 }] },
  });
});

afterAll(async () => {
  await server?.close();
});

const expectObservations = (param: string, value: string, expected: string[]) =>
  expectMatches(server, `/fhir/Observation?${param}=${q(value)}`, 'Observation', observations, expected);

describe('composite: token$quantity', () => {
  it('code-value-quantity: the code and the value of the Observation itself', async () => {
    await expectObservations('code-value-quantity', `${LOINC}|8480-6$gt130`, ['systolic140']);
    await expectObservations('code-value-quantity', `${LOINC}|8480-6$gt100`, ['systolic125', 'systolic140']);
    await expectObservations('code-value-quantity', `${LOINC}|8462-4$gt130`, []);
    await expectObservations('code-value-quantity', `${LOINC}|8480-6$gt130|${UCUM}|mm[Hg]`, ['systolic140']);
    await expectObservations('code-value-quantity', `8480-6$125`, ['systolic125']);
  });

  it('the specification example: potassium above 5.4 mmol/L, in canonical units', async () => {
    await expectObservations('code-value-quantity', `${LOINC}|2823-3$gt5.4|${UCUM}|mmol/L`, ['potassium5_6']);
    await expectObservations('code-value-quantity', `${LOINC}|2823-3$lt5|${UCUM}|mmol/L`, ['potassium4800umol']);
  });

  it('component-code-value-quantity: code and value from the SAME component', async () => {
    // 120/85: the systolic component is above 100, the diastolic one is not
    await expectObservations('component-code-value-quantity', `${LOINC}|8480-6$gt100`, ['bp120over85']);
    await expectObservations('component-code-value-quantity', `${LOINC}|8462-4$gt100`, []);
    await expectObservations('component-code-value-quantity', `${LOINC}|8462-4$gt80`, ['bp120over85']);
    await expectObservations('component-code-value-quantity', `${LOINC}|8462-4$lt70`, ['bp95over60']);
    // the specification example: systolic below 60
    await expectObservations('component-code-value-quantity', `${LOINC}|8480-6$lt60`, []);
  });

  it('combo-code-value-quantity: any component', async () => {
    await expectObservations('combo-code-value-quantity', `${LOINC}|8462-4$lt70`, ['bp95over60']);
  });

  it('combo-code-value-quantity: the Observation itself or any of its components', async () => {
    await expectObservations('combo-code-value-quantity', `${LOINC}|8480-6$gt100`, ['bp120over85', 'systolic125', 'systolic140']);
    await expectObservations('combo-code-value-quantity', `${LOINC}|8462-4$ge85`, ['bp120over85', 'diastolic90']);
  });

  it('composite values are ORed like any others; repeated parameters ANDed', async () => {
    await expectObservations('code-value-quantity', `8480-6$lt130,8462-4$ge90`, ['systolic125', 'diastolic90']);
    await expectMatches(
      server,
      `/fhir/Observation?component-code-value-quantity=${q('8480-6$gt100')}&component-code-value-quantity=${q('8462-4$gt80')}`,
      'Observation',
      observations,
      ['bp120over85'],
    );
  });
});

describe('composite: other component types', () => {
  it('code-value-concept (token$token)', async () => {
    await expectObservations('code-value-concept', `${LOINC}|883-9$${SNOMED}|112144000`, ['bloodGroupA']);
    await expectObservations('code-value-concept', '883-9$165743006', ['bloodGroupO']);
    await expectObservations('code-value-concept', '883-9$112144000,883-9$165743006', ['bloodGroupA', 'bloodGroupO']);
    await expectObservations('code-value-concept', `8480-6$${SNOMED}|112144000`, []);
  });

  it('code-value-date (token$date), on a dateTime or a Period', async () => {
    await expectObservations('code-value-date', `${LOINC}|21112-8$2020-05`, ['onsetMay2020']);
    await expectObservations('code-value-date', '21112-8$2021', ['firstHalf2021']);
    await expectObservations('code-value-date', '21112-8$ge2021-03-01', ['firstHalf2021']);
    await expectObservations('code-value-date', '21112-8$lt2021', ['onsetMay2020']);
    await expectObservations('code-value-date', '883-9$2020', []);
  });

  it('code-value-string (token$string): a case-insensitive prefix', async () => {
    await expectObservations('code-value-string', `${ACME}|payment$card`, ['paidCard']);
    await expectObservations('code-value-string', 'payment$CASH', ['paidCash']);
    await expectObservations('code-value-string', 'payment$paid', []);
  });

  it('Group characteristic-value (token$token): "gender$mixed"', async () => {
    const expectGroups = (value: string, expected: string[]) => expectMatches(server, `/fhir/Group?characteristic-value=${q(value)}`, 'Group', groups, expected);
    await expectGroups('gender$mixed', ['mixedAdults']);
    await expectGroups('gender$mixed,age-group$child', ['mixedAdults', 'maleChildren']);
    // gender and adult are both in mixedAdults, but in two characteristics
    await expectGroups('gender$adult', []);
  });

  it('three components (token$number$number): chromosome-variant-coordinate, within one variant', async () => {
    const expectSequences = (value: string, expected: string[]) =>
      expectMatches(server, `/fhir/MolecularSequence?chromosome-variant-coordinate=${q(value)}`, 'MolecularSequence', sequences, expected);
    await expectSequences('1$100$200', ['chr1']);
    await expectSequences('1$ge500$le600', ['chr1']);
    await expectSequences('1$lt345$gt123', ['chr1']);
    // start 100 and end 600 exist, but in two variants
    await expectSequences('1$100$600', []);
    await expectSequences('2$100$200', ['chr2']);
    await expectSequences('2$500$600', []);
  });
});

/**
 * `code=X&value-quantity=gtY` on Observation is served from the code-value-quantity rows (both are
 * the Observation's own, every code paired with the value): the results must be exactly those of
 * the two criteria, including the forms the composite cannot take and are left as two criteria.
 */
describe('code and value criteria together, as their composite', () => {
  const expectBoth = (query: string, expected: string[]) => expectMatches(server, `/fhir/Observation?${query}`, 'Observation', observations, expected);

  it('code with value-quantity: the same Observation, in any units UCUM converts', async () => {
    await expectBoth(`code=${q(`${LOINC}|8480-6`)}&value-quantity=gt130`, ['systolic140']);
    await expectBoth(`value-quantity=gt100&code=8480-6`, ['systolic125', 'systolic140']);
    await expectBoth(`code=2823-3&value-quantity=${q(`gt5.4|${UCUM}|mmol/L`)}`, ['potassium5_6']);
    await expectBoth(`code=2823-3&value-quantity=${q(`lt5000|${UCUM}|umol/L`)}`, ['potassium4800umol']);
    // the components of a blood pressure are not the Observation's own code and value
    await expectBoth(`code=8462-4&value-quantity=lt70`, []);
  });

  it('ORed values on both sides pair every code with every value', async () => {
    await expectBoth(`code=8480-6,8462-4&value-quantity=lt130,ge140`, ['systolic125', 'systolic140', 'diastolic90']);
    await expectBoth(`code=8480-6,2823-3&value-quantity=gt130`, ['systolic140', 'potassium4800umol']);
  });

  it('forms the composite would read otherwise stay two criteria: n||unit matches the human unit', async () => {
    await expectBoth(`code=8480-6&value-quantity=${q('gt100||mmHg')}`, ['systolic125', 'systolic140']);
    await expectBoth(`code=${q(`${LOINC}|`)}&value-quantity=gt130`, ['systolic140', 'potassium4800umol']);
    await expectBoth(`code=8480-6&code=${q(`${LOINC}|8480-6`)}&value-quantity=gt130`, ['systolic140']);
  });

  it('code with value-concept', async () => {
    await expectBoth(`code=883-9&value-concept=${q(`${SNOMED}|112144000`)}`, ['bloodGroupA']);
    await expectBoth(`code=883-9&value-concept=165743006,112144000`, ['bloodGroupA', 'bloodGroupO']);
    await expectBoth(`code=8480-6&value-concept=112144000`, []);
  });

  it('a malformed value is refused under its own parameter name', async () => {
    await expectSearchError(server, `/fhir/Observation?code=8480-6&value-quantity=high`, 'value-quantity');
    await expectSearchError(server, `/fhir/Observation?code=${q('|')}&value-quantity=gt1`, 'code');
  });
});

describe('composite: escaping and errors', () => {
  it('\\$ is a literal $ inside a component', async () => {
    await expectObservations('code-value-string', `${ACME}|payment$cash \\$100`, ['paidCash']);
    await expectObservations('code-value-string', 'a\\$b$dollar', ['dollarCode']);
  });

  it('the wrong number of components is refused, naming the parameter', async () => {
    await expectSearchError(server, `/fhir/Observation?code-value-quantity=${q('8480-6')}`, 'code-value-quantity');
    await expectSearchError(server, `/fhir/Observation?code-value-quantity=${q('8480-6$gt100$1')}`, 'code-value-quantity');
    // an unescaped $ inside the string makes three components
    await expectSearchError(server, `/fhir/Observation?code-value-string=${q('payment$cash $100')}`, 'code-value-string');
    await expectSearchError(server, `/fhir/MolecularSequence?chromosome-variant-coordinate=${q('1$100')}`, 'chromosome-variant-coordinate');
  });

  it('a malformed component is refused, naming the parameter', async () => {
    await expectSearchError(server, `/fhir/Observation?code-value-quantity=${q('8480-6$high')}`, 'code-value-quantity');
    await expectSearchError(server, `/fhir/Observation?code-value-date=${q('21112-8$yesterday')}`, 'code-value-date');
  });

  it('"modifiers are not used on composite parameters"', async () => {
    await expectSearchError(server, `/fhir/Observation?code-value-quantity:exact=${q('8480-6$gt1')}`, 'exact');
  });
});
