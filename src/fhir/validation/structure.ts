import { OperationOutcomeError, validateResource as medplumValidateResource } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { isResourceType } from '../../definitions/index.js';
import type { IssueType } from '../../errors.js';
import { PRIMITIVE_TYPES } from './element-index.js';

/**
 * Structural validation by @medplum/core against the R4 StructureDefinitions (cardinality, required
 * elements, JSON types, primitive formats, unknown properties, invariants), including contained and
 * nested resources. Medplum throws an OperationOutcomeError when it finds an error; both outcomes
 * are turned into a list of issues here, with expressions made concrete (array indices, choice types).
 * It costs about a millisecond per resource, so it runs only where the resource walker could not
 * predict its findings (resource-walker.ts), which is where the resource has a problem.
 */
export function structuralIssues(
  resource: Record<string, unknown>,
  resourceType: string,
): { issues: OperationOutcomeIssue[]; crash?: OperationOutcomeIssue } {
  let raw: OperationOutcomeIssue[];
  try {
    raw = medplumValidateResource(resource as unknown as Resource);
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) {
      // Medplum chokes on some malformed JSON (e.g. `"_gender": "x"`); the walker usually names it.
      const text = `Malformed resource: ${err instanceof Error ? err.message : String(err)}`;
      return { issues: [], crash: { severity: 'error', code: 'structure', details: { text }, diagnostics: text, expression: [resourceType] } };
    }
    raw = err.outcome.issue ?? [];
  }
  const issues: OperationOutcomeIssue[] = [];
  for (const issue of raw) {
    const text = issue.details?.text ?? issue.diagnostics ?? '';
    const expression = issue.expression?.[0];
    if (issue.severity === 'warning' && text.startsWith('Conflicting choice of type properties')) {
      continue; // reported as an error, with its path, by the resource walker
    }
    const concrete = expression ? concreteExpression(resource, expression) : resourceType;
    if (text === 'Invalid base64Binary format' && isR4Base64(valuesAt(resource, concrete))) continue;
    issues.push({ ...issue, severity: severity(issue, text), code: issueCode(issue.code, text), details: { ...issue.details, text }, expression: [concrete] });
  }
  return { issues };
}

/**
 * R4's own pattern for base64Binary (its StructureDefinition's regex) lets whitespace in, as in
 * line-wrapped MIME data (Inferno's Device.udiCarrier.carrierAIDC); Medplum's pattern does not.
 * Medplum's finding stands only where a value breaks R4's pattern.
 */
const R4_BASE64 = /^\s*(?:[0-9a-zA-Z+/=]{4}\s*)+$/; // R4's `(\s*([0-9a-zA-Z\+/=]){4}\s*)+`, without its backtracking

function isR4Base64(values: unknown[]): boolean {
  return values.length > 0 && values.every((value) => typeof value === 'string' && R4_BASE64.test(value));
}

/** Every value a concrete expression can mean: all the items of an array step without an index. */
function valuesAt(resource: Record<string, unknown>, expression: string): unknown[] {
  const choiceKey = (_all: string, name: string, first: string, rest: string) => name + first.toUpperCase() + rest;
  const path = expression.replace(/(\w+)\.ofType\((\w)(\w*)\)/g, choiceKey);
  let values: unknown[] = [resource];
  for (const step of path.split('.').slice(1)) {
    const match = /^(\w+)(?:\[(\d+)\])?$/.exec(step);
    if (!match) return [];
    const [, key, index] = match as unknown as [string, string, string | undefined];
    values = values.flatMap((value) => {
      const next = isRecord(value) ? value[key] : undefined;
      if (index !== undefined) return Array.isArray(next) ? [next[Number(index)]] : [];
      return Array.isArray(next) ? next : next === undefined ? [] : [next];
    });
  }
  return values;
}

/**
 * An element R4 does not define is a warning, not an error: the resource is stored as sent, and
 * $validate reports it. Real-world data carries such elements (Inferno's US Core data has an
 * `effectivePeriod.stop`), and lenient peers (HAPI) accept it; rejecting the whole write would lose data.
 */
function severity(issue: OperationOutcomeIssue, text: string): OperationOutcomeIssue['severity'] {
  return text.startsWith('Invalid additional property') ? 'warning' : issue.severity;
}

function issueCode(code: IssueType, text: string): IssueType {
  if (code !== 'structure') return code;
  if (text === 'Missing required property') return 'required';
  if (
    /^Invalid \w+ format$/.test(text) ||
    text.startsWith('Expected number to be') ||
    text === 'Invalid numeric value' ||
    text.startsWith('String must contain') ||
    text.startsWith('String cannot be larger')
  ) {
    return 'value';
  }
  return code;
}

/** "got "Patient"" in Medplum's "Invalid reference: got "X", expected ..." warning. */
export function referenceWarningType(issue: OperationOutcomeIssue): string | undefined {
  const text = issue.details?.text;
  if (issue.severity !== 'warning' || !text?.startsWith('Invalid reference: got "')) return undefined;
  const start = 'Invalid reference: got "'.length;
  return text.slice(start, text.indexOf('"', start));
}

/** Medplum's target-type warning is only meaningful for `Type/id` and `Type?query` references. */
export function isMeaningfulReferenceWarning(issue: OperationOutcomeIssue, badReferences: ReadonlySet<string>): boolean {
  const got = referenceWarningType(issue);
  if (got === undefined) return true;
  return isResourceType(got) && !badReferences.has(issue.expression?.[0] ?? '');
}

const SEGMENT = /^([^[\]]+)(\[x\])?(?:\[(\d+)\])?$/;

/**
 * Turns Medplum's element paths into concrete FHIRPath against the resource:
 * `Observation.value[x].value` → `Observation.value.ofType(Quantity).value`, and
 * `Patient.name.given` → `Patient.name[1].given` when only one array item can be meant.
 * Anything it cannot resolve is left as it was (minus the `[x]`).
 */
export function concreteExpression(resource: Record<string, unknown>, expression: string): string {
  const segments = expression.split('.');
  if (segments[0] !== resource.resourceType) return expression;
  const out: string[] = [segments[0]];
  let current: unknown = resource;
  let underscore: unknown; // the `_name` partner of a primitive, for `.extension`/`.id` steps
  for (let s = 1; s < segments.length; s++) {
    const segment = segments[s] as string;
    const match = SEGMENT.exec(segment);
    const name = match?.[1];
    if ((name === 'extension' || name === 'id') && (current === undefined || (current !== null && typeof current !== 'object'))) {
      current = underscore; // a primitive's extension lives in its `_name` partner
    }
    if (!match || !name || current === undefined) {
      out.push(segment.replace('[x]', ''));
      current = undefined;
      continue;
    }
    const choice = match[2];
    const index = match[3];
    if (typeof current !== 'object' || current === null || Array.isArray(current)) {
      out.push(choice ? name + (index ? `[${index}]` : '') : segment);
      current = undefined;
      continue;
    }
    const obj = current as Record<string, unknown>;
    let key = name;
    let step = name;
    if (choice) {
      const found = Object.keys(obj).find((k) => k.length > name.length && k.startsWith(name) && isUpper(k.charCodeAt(name.length)));
      if (found) {
        key = found;
        const suffix = found.slice(name.length);
        const lower = suffix.charAt(0).toLowerCase() + suffix.slice(1);
        step = `${name}.ofType(${PRIMITIVE_TYPES.has(lower) ? lower : suffix})`;
      }
    }
    let value = obj[key];
    let partner = obj[`_${key}`];
    if (index !== undefined) {
      step += `[${index}]`;
      value = Array.isArray(value) ? value[Number(index)] : undefined;
      partner = Array.isArray(partner) ? partner[Number(index)] : undefined;
    } else if (Array.isArray(value) && s + 1 < segments.length) {
      // Which item is meant? The one that has the next step, if only one does.
      const next = (segments[s + 1] as string).replace(/\[.*$/, '');
      const candidates = value.map((item, i) => (isRecord(item) && hasStep(item, next) ? i : -1)).filter((i) => i >= 0);
      if (candidates.length === 1) {
        const i = candidates[0] as number;
        step += `[${i}]`;
        value = value[i];
        partner = Array.isArray(partner) ? partner[i] : undefined;
      } else {
        value = undefined;
      }
    }
    out.push(step);
    current = value;
    underscore = partner;
  }
  return out.join('.');
}

function isUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function hasStep(obj: Record<string, unknown>, name: string): boolean {
  if (name in obj) return true;
  for (const k in obj) if (k.length > name.length && k.startsWith(name) && isUpper(k.charCodeAt(name.length))) return true;
  return false;
}
