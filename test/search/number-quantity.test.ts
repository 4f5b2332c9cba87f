import { afterAll, beforeAll, describe, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { createAll, expectMatches, expectSearchError, q, UCUM, type Fixture, type Ids } from './values-support.js';

/**
 * number and quantity parameters (https://hl7.org/fhir/R4/search.html#number, #quantity, #prefix).
 *
 * How the expectations read the specification:
 * - A searched number stands for the range its precision implies: `100` is [99.5, 100.5), `100.0`
 *   is [99.95, 100.05), `100.00` is [99.995, 100.005). eq matches a value inside that range, ne one outside.
 * - "When a comparison prefix in the set gt, lt, ge, le, sa & eb is provided, the implicit precision
 *   of the number is ignored": `gt100` is "greater than exactly 100", `ge100` "greater or equal to exactly 100".
 * - A stored decimal is the value itself (JSON does not keep its trailing zeros, so its precision is
 *   unknowable); a stored Range is the explicit range [low, high].
 * - ap is "approximately", 10% recommended: tests only use values well inside or well outside 10%.
 */

let server: TestServer;

const chargeItem = (factorOverride?: number): Fixture => ({
  resourceType: 'ChargeItem',
  status: 'billable',
  code: { text: 'consultation' },
  subject: { reference: 'Patient/p1' },
  ...(factorOverride === undefined ? {} : { factorOverride }),
});

const riskAssessment = (prediction?: Record<string, unknown>): Fixture => ({
  resourceType: 'RiskAssessment',
  status: 'final',
  subject: { reference: 'Patient/p1' },
  ...(prediction ? { prediction: [prediction] } : {}),
});

const sequence = (starts: number[]): Fixture => ({
  resourceType: 'MolecularSequence',
  coordinateSystem: 0,
  variant: starts.map((start) => ({ start, end: start + 10 })),
});

const observation = (value: Record<string, unknown>): Fixture => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '2823-3' }] },
  ...value,
});
const quantity = (value: number, code: string, system: string | undefined = UCUM, unit: string | undefined = code) =>
  observation({ valueQuantity: { value, ...(unit ? { unit } : {}), ...(system ? { system } : {}), ...(code ? { code } : {}) } });

let charges: Ids;
let risks: Ids;
let sequences: Ids;
let observations: Ids;
let valueSets: Ids;

beforeAll(async () => {
  server = await startTestServer();
  charges = await createAll(server, {
    v40: chargeItem(40),
    v96: chargeItem(96),
    v99_4: chargeItem(99.4),
    v99_5: chargeItem(99.5),
    v99_96: chargeItem(99.96),
    v100: chargeItem(100),
    v100_004: chargeItem(100.004),
    v100_4: chargeItem(100.4),
    v100_5: chargeItem(100.5),
    v140: chargeItem(140),
    minus5: chargeItem(-5),
    none: chargeItem(),
  });
  risks = await createAll(server, {
    p0_2: riskAssessment({ probabilityDecimal: 0.2 }),
    p0_8: riskAssessment({ probabilityDecimal: 0.8 }),
    p0_9: riskAssessment({ probabilityDecimal: 0.9 }),
    // a probability Range is in percent (ras-1); a number search compares its values, not its unit
    range0_5to0_7: riskAssessment({ probabilityRange: { low: { value: 0.5, system: UCUM, code: '%' }, high: { value: 0.7, system: UCUM, code: '%' } } }),
    noPrediction: riskAssessment(),
  });
  sequences = await createAll(server, {
    start1: sequence([1]),
    start2: sequence([2]),
    start3: sequence([3]),
    start5and20: sequence([5, 20]),
  });
  observations = await createAll(server, {
    mg5_34: quantity(5.34, 'mg'),
    mg5_4: quantity(5.4, 'mg'),
    mg5_46: quantity(5.46, 'mg'),
    g0_0054: quantity(0.0054, 'g'),
    mg500: quantity(500, 'mg'),
    g1: quantity(1, 'g'),
    mg1000: quantity(1000, 'mg'),
    mg1500: quantity(1500, 'mg'),
    umol5300: quantity(5300, 'umol/L'),
    umol5400: quantity(5400, 'umol/L'),
    umol5500: quantity(5500, 'umol/L'),
    mmol5_4: quantity(5.4, 'mmol/L'),
    mmol5_5: quantity(5.5, 'mmol/L'),
    cel37: quantity(37, 'Cel'),
    degF98_6: quantity(98.6, '[degF]'), // 37 °C
    degF99: quantity(99, '[degF]'), // 37.22 °C
    degF100: quantity(100, '[degF]'), // 37.78 °C
    acme5_4: quantity(5.4, 'mg', 'http://acme.org/units', 'milligram'), // not UCUM: compared by system and code only
    unitOnly5_4: quantity(5.4, '', undefined, 'mg'), // only a human unit
    noQuantity: observation({ valueString: 'not measured' }),
  });
  valueSets = await createAll(server, {
    adults: {
      resourceType: 'ValueSet',
      status: 'active',
      useContext: [
        {
          code: { system: 'http://terminology.hl7.org/CodeSystem/usage-context-type', code: 'age' },
          valueRange: { low: { value: 18, system: UCUM, code: 'a' }, high: { value: 65, system: UCUM, code: 'a' } },
        },
      ],
    },
    fromTen: {
      resourceType: 'ValueSet',
      status: 'active',
      useContext: [
        { code: { system: 'http://terminology.hl7.org/CodeSystem/usage-context-type', code: 'age' }, valueRange: { low: { value: 10, system: UCUM, code: 'a' } } },
      ],
    },
    age40: {
      resourceType: 'ValueSet',
      status: 'active',
      useContext: [
        { code: { system: 'http://terminology.hl7.org/CodeSystem/usage-context-type', code: 'age' }, valueQuantity: { value: 40, system: UCUM, code: 'a' } },
      ],
    },
  });
});

afterAll(async () => {
  await server?.close();
});

describe('number: a decimal (ChargeItem?factor-override)', () => {
  const expectCharges = (value: string, expected: string[]) =>
    expectMatches(server, `/fhir/ChargeItem?factor-override=${value}`, 'ChargeItem', charges, expected);

  it('no prefix is eq: 100 is the range [99.5, 100.5)', async () => {
    await expectCharges('100', ['v99_5', 'v99_96', 'v100', 'v100_004', 'v100_4']);
    await expectCharges('eq100', ['v99_5', 'v99_96', 'v100', 'v100_004', 'v100_4']);
  });

  it('more digits narrow the range: 100.0 is [99.95, 100.05), 100.00 is [99.995, 100.005)', async () => {
    await expectCharges('100.0', ['v99_96', 'v100', 'v100_004']);
    await expectCharges('100.00', ['v100', 'v100_004']);
  });

  it('exponential form: 1.00e2 has three significant digits like 100; 1e2 has one', async () => {
    await expectCharges('1.00e2', ['v99_5', 'v99_96', 'v100', 'v100_004', 'v100_4']);
    // "1e2: values that equal 100, to 1 significant figures precision". The example table's
    // "[95 ... 105)" contradicts the rule it illustrates ("the number of significant digits ... is
    // the number of digits specified"): one significant digit of hundreds is [50, 150).
    await expectCharges('1e2', ['v96', 'v99_4', 'v99_5', 'v99_96', 'v100', 'v100_004', 'v100_4', 'v100_5', 'v140']);
    await expectCharges('4e1', ['v40']);
  });

  it('ne: the value is outside the range of the searched value; a resource without a value does not match', async () => {
    await expectCharges('ne100', ['v40', 'v96', 'v99_4', 'v100_5', 'v140', 'minus5']);
  });

  it('gt, ge, lt, le compare with exactly the searched value (its precision is ignored)', async () => {
    await expectCharges('gt100', ['v100_004', 'v100_4', 'v100_5', 'v140']);
    await expectCharges('ge100', ['v100', 'v100_004', 'v100_4', 'v100_5', 'v140']);
    await expectCharges('lt100', ['v40', 'v96', 'v99_4', 'v99_5', 'v99_96', 'minus5']);
    await expectCharges('le100', ['v40', 'v96', 'v99_4', 'v99_5', 'v99_96', 'v100', 'minus5']);
    await expectCharges('gt100.4', ['v100_5', 'v140']);
    await expectCharges('lt99.5', ['v40', 'v96', 'v99_4', 'minus5']);
  });

  it('sa and eb: a single value starts after / ends before exactly the searched value', async () => {
    await expectCharges('sa100', ['v100_004', 'v100_4', 'v100_5', 'v140']);
    await expectCharges('eb100', ['v40', 'v96', 'v99_4', 'v99_5', 'v99_96', 'minus5']);
  });

  it('ap: approximately (10% recommended)', async () => {
    await expectCharges('ap100', ['v96', 'v99_4', 'v99_5', 'v99_96', 'v100', 'v100_004', 'v100_4', 'v100_5']);
  });

  it('negative values', async () => {
    await expectCharges('-5', ['minus5']);
    await expectCharges('lt0', ['minus5']);
  });

  it('values separated by commas are ORed; a repeated parameter is ANDed', async () => {
    await expectCharges('40,140', ['v40', 'v140']);
    await expectMatches(server, '/fhir/ChargeItem?factor-override=gt99&factor-override=lt100.1', 'ChargeItem', charges, [
      'v99_4', 'v99_5', 'v99_96', 'v100', 'v100_004',
    ]);
  });

  it(':missing', async () => {
    const all = Object.keys(charges).filter((label) => label !== 'none');
    await expectMatches(server, '/fhir/ChargeItem?factor-override:missing=true', 'ChargeItem', charges, ['none']);
    await expectMatches(server, '/fhir/ChargeItem?factor-override:missing=false', 'ChargeItem', charges, all);
  });

  it('a value that is not a number is refused, naming the parameter', async () => {
    for (const value of ['abc', 'gt', '100x', '1,abc', 'xx100', '1.2.3', 'gt%20']) {
      await expectSearchError(server, `/fhir/ChargeItem?factor-override=${value}`, 'factor-override');
    }
    await expectSearchError(server, '/fhir/ChargeItem?factor-override:exact=100', 'exact');
  });
});

describe('number: a decimal or a Range (RiskAssessment?probability)', () => {
  const expectRisks = (value: string, expected: string[]) =>
    expectMatches(server, `/fhir/RiskAssessment?probability=${value}`, 'RiskAssessment', risks, expected);

  it('the specification example: probability=gt0.8, also written gt8e-1', async () => {
    await expectRisks('gt0.8', ['p0_9']);
    await expectRisks('gt8e-1', ['p0_9']);
  });

  it('eq matches a Range only when the searched range contains all of it', async () => {
    await expectRisks('0.6', []);
    await expectRisks('0.8', ['p0_8']);
    // 1e0 is [0.5, 1.5): it contains 0.8, 0.9 and the whole of [0.5, 0.7]
    await expectRisks('1e0', ['p0_8', 'p0_9', 'range0_5to0_7']);
  });

  it('gt/lt/ge/le match a Range that reaches beyond the value; sa/eb one entirely beyond it', async () => {
    await expectRisks('ge0.6', ['range0_5to0_7', 'p0_8', 'p0_9']);
    await expectRisks('lt0.6', ['p0_2', 'range0_5to0_7']);
    await expectRisks('gt0.7', ['p0_8', 'p0_9']);
    await expectRisks('le0.5', ['p0_2', 'range0_5to0_7']);
    await expectRisks('sa0.4', ['range0_5to0_7', 'p0_8', 'p0_9']);
    await expectRisks('sa0.6', ['p0_8', 'p0_9']);
    await expectRisks('eb0.6', ['p0_2']);
    await expectRisks('eb0.75', ['p0_2', 'range0_5to0_7']);
  });

  it('ne and ap on a Range', async () => {
    await expectRisks('ne0.6', ['p0_2', 'range0_5to0_7', 'p0_8', 'p0_9']);
    await expectRisks('ap0.6', ['range0_5to0_7']);
  });

  it(':missing', async () => {
    await expectMatches(server, '/fhir/RiskAssessment?probability:missing=true', 'RiskAssessment', risks, ['noPrediction']);
  });
});

describe('number: an integer (MolecularSequence?variant-start)', () => {
  const expectSequences = (value: string, expected: string[]) =>
    expectMatches(server, `/fhir/MolecularSequence?variant-start=${value}`, 'MolecularSequence', sequences, expected);

  it('an integer searched without decimals matches exactly; any element of a repeating one may match', async () => {
    await expectSequences('2', ['start2']);
    await expectSequences('20', ['start5and20']);
    await expectSequences('2.0', ['start2']);
  });

  it('non-zero digits after the decimal point cannot match an integer', async () => {
    await expectSequences('2.5', []);
  });

  it('prefixes', async () => {
    await expectSequences('gt2', ['start3', 'start5and20']);
    await expectSequences('le2', ['start1', 'start2']);
    await expectSequences('gt10', ['start5and20']);
    await expectSequences('lt5', ['start1', 'start2', 'start3']);
  });
});

describe('quantity (Observation?value-quantity)', () => {
  const expectObservations = (value: string, expected: string[]) =>
    expectMatches(server, `/fhir/Observation?value-quantity=${q(value)}`, 'Observation', observations, expected);

  it('number|system|code: UCUM quantities are compared in canonical units, with the precision of the searched value', async () => {
    // 5.4 mg is [5.35, 5.45) mg; 0.0054 g is the same amount
    await expectObservations(`5.4|${UCUM}|mg`, ['mg5_4', 'g0_0054']);
    // "5.40e-3 g: a value of 0.0054(+/-0.000005) g"
    await expectObservations(`5.40e-3|${UCUM}|g`, ['mg5_4', 'g0_0054']);
    // 1 g is [0.5, 1.5) g: 500 mg is in, 1500 mg is not
    await expectObservations(`1|${UCUM}|g`, ['mg500', 'g1', 'mg1000']);
    await expectObservations(`1000|${UCUM}|mg`, ['g1', 'mg1000']);
  });

  it('canonical comparison across molar concentrations (mmol/L against umol/L)', async () => {
    await expectObservations(`gt5.4|${UCUM}|mmol/L`, ['umol5500', 'mmol5_5']);
    await expectObservations(`ge5.4|${UCUM}|mmol/L`, ['umol5400', 'mmol5_4', 'umol5500', 'mmol5_5']);
    await expectObservations(`lt5.4|${UCUM}|mmol/L`, ['umol5300']);
    await expectObservations(`le5400|${UCUM}|umol/L`, ['umol5300', 'umol5400', 'mmol5_4']);
    await expectObservations(`5.4|${UCUM}|mmol/L`, ['umol5400', 'mmol5_4']);
  });

  it('temperatures: Cel and [degF] are compared on one scale', async () => {
    // 37 Cel is [36.5, 37.5) °C: 98.6 °F (37 °C) and 99 °F (37.2 °C) are in, 100 °F (37.8 °C) is not
    await expectObservations(`37|${UCUM}|Cel`, ['cel37', 'degF98_6', 'degF99']);
    await expectObservations(`gt37.5|${UCUM}|Cel`, ['degF100']);
    await expectObservations(`lt99|${UCUM}|[degF]`, ['cel37', 'degF98_6']);
  });

  it('every prefix on a UCUM quantity', async () => {
    await expectObservations(`eq5.4|${UCUM}|mg`, ['mg5_4', 'g0_0054']);
    // ne: comparable quantities (masses) outside [5.35, 5.45) mg
    await expectObservations(`ne5.4|${UCUM}|mg`, ['mg5_34', 'mg5_46', 'mg500', 'g1', 'mg1000', 'mg1500']);
    await expectObservations(`gt5.4|${UCUM}|mg`, ['mg5_46', 'mg500', 'g1', 'mg1000', 'mg1500']);
    await expectObservations(`ge5.4|${UCUM}|mg`, ['mg5_4', 'g0_0054', 'mg5_46', 'mg500', 'g1', 'mg1000', 'mg1500']);
    await expectObservations(`lt5.4|${UCUM}|mg`, ['mg5_34']);
    await expectObservations(`le5.4|${UCUM}|mg`, ['mg5_34', 'mg5_4', 'g0_0054']);
    await expectObservations(`sa5.4|${UCUM}|mg`, ['mg5_46', 'mg500', 'g1', 'mg1000', 'mg1500']);
    await expectObservations(`eb5.4|${UCUM}|mg`, ['mg5_34']);
    await expectObservations(`ap5.4|${UCUM}|mg`, ['mg5_34', 'mg5_4', 'g0_0054', 'mg5_46']);
  });

  it('number||unit matches the code or the human unit, in any system', async () => {
    await expectObservations('5.4||mg', ['mg5_4', 'unitOnly5_4', 'acme5_4']);
    await expectObservations('5.4||milligram', ['acme5_4']);
    await expectObservations('gt5.4||mg', ['mg5_46', 'mg500', 'mg1000', 'mg1500']);
  });

  it('a number alone matches the value in any unit', async () => {
    await expectObservations('5.4', ['mg5_4', 'mmol5_4', 'acme5_4', 'unitOnly5_4']);
    await expectObservations('1.000e3', ['mg1000']);
  });

  it('a system other than UCUM is compared by system and code, without conversion', async () => {
    await expectObservations('5.4|http://acme.org/units|mg', ['acme5_4']);
    await expectObservations('5.4|http://acme.org/units|g', []);
    await expectObservations('5.4e-3|http://acme.org/units|g', []);
  });

  it('values are ORed, repeated parameters ANDed', async () => {
    await expectObservations(`5.4|${UCUM}|mg,37|${UCUM}|Cel`, ['mg5_4', 'g0_0054', 'cel37', 'degF98_6', 'degF99']);
    await expectMatches(server, `/fhir/Observation?value-quantity=${q(`gt1|${UCUM}|g`)}&value-quantity=${q(`lt2|${UCUM}|g`)}`, 'Observation', observations, ['mg1500']);
  });

  it(':missing', async () => {
    await expectMatches(server, '/fhir/Observation?value-quantity:missing=true', 'Observation', observations, ['noQuantity']);
  });

  it('a malformed quantity is refused, naming the parameter', async () => {
    for (const value of [`abc|${UCUM}|mg`, '5.4|a|b|c', `5.4|${UCUM}`, `gt|${UCUM}|mg`]) {
      await expectSearchError(server, `/fhir/Observation?value-quantity=${q(value)}`, 'value-quantity');
    }
  });
});

describe('quantity on a Range (ValueSet?context-quantity)', () => {
  const expectValueSets = (value: string, expected: string[]) =>
    expectMatches(server, `/fhir/ValueSet?context-quantity=${q(value)}`, 'ValueSet', valueSets, expected);

  it('a Range matches gt/lt when it reaches beyond the value, eq only when the searched range contains it', async () => {
    await expectValueSets('gt60', ['adults', 'fromTen']);
    await expectValueSets('gt70', ['fromTen']);
    await expectValueSets('lt15', ['fromTen']);
    await expectValueSets('40', ['age40']);
    await expectValueSets('sa15', ['adults', 'age40']);
    await expectValueSets('eb70', ['adults', 'age40']);
  });

  it('a Range in UCUM units is compared in canonical units (years against months)', async () => {
    // 30 years = 360 months: inside [18, 65] years and below 40 years
    await expectValueSets(`lt360|${UCUM}|mo`, ['adults', 'fromTen']);
    await expectValueSets(`gt70|${UCUM}|a`, ['fromTen']);
  });
});
