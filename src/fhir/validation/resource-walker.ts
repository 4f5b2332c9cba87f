import type { TypedValue } from '@medplum/core';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { isResourceType } from '../../definitions/index.js';
import { issueAt } from '../../errors.js';
import type { DateType, ElementProp, ObjectSchema } from './element-index.js';
import { objectSchema } from './element-index.js';
import { isValidId } from '../ids.js';
import type { Invariant } from './invariants.js';
import { invariantHolds } from './invariants.js';
import { narrativeIssues } from './narrative.js';
import { checkReferenceSyntax } from './reference-syntax.js';
import { codeNotInValueSetText, codeSetHas } from './required-bindings.js';
import { referenceTargetWarning } from './reference-targets.js';

/**
 * One typed pass over a resource, driven by the compiled element definitions. It checks what
 * Medplum's structural validator does not: resource ids (also of contained and nested resources),
 * `Reference.reference` syntax and local (`#id`) targets, required bindings of `code` elements,
 * nested resources' types, more than one choice-type property, and JSON shapes it lets through
 * (empty arrays, `""` and `{}` values, primitives where an object is expected).
 *
 * In the same pass it applies every rule of Medplum's validator (cardinality, required elements, JSON
 * types, primitive formats, unknown properties, choice types, invariants) to predict what that
 * validator would say, which is much cheaper than running it: on a resource where the pass finds
 * none of those problems, Medplum's only findings are its reference target-type warnings, which the
 * pass reproduces. At the first doubt the prediction is dropped, and Medplum's validator, with its
 * wording and paths, reports the problems.
 */

export interface WalkResult {
  readonly issues: OperationOutcomeIssue[];
  /**
   * Issues about the JSON shape that Medplum may also report at the same expression; the caller
   * keeps them only where it did not.
   */
  readonly shapeIssues: OperationOutcomeIssue[];
  /** A nested resource has an unknown resourceType (Medplum cannot validate the tree then). */
  readonly unknownNestedType: boolean;
  /** Expressions of the Reference elements whose `reference` was reported as invalid. */
  readonly badReferences: ReadonlySet<string>;
  /**
   * What Medplum's validator would report (already in our wording and with concrete expressions),
   * or undefined when the pass found something that only Medplum can word.
   */
  readonly structure: OperationOutcomeIssue[] | undefined;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface Container {
  readonly resource: Json;
  containedIds?: Set<string>;
}

const INTEGER_TYPES = new Set(['integer', 'positiveInt', 'unsignedInt']);
/** integer, positiveInt and unsignedInt are 32-bit signed (datatypes.html#primitive), which Medplum does not check. */
const INT32_MAX = 2_147_483_647;
const INT32_MIN = -2_147_483_648;
const ONE_MEGABYTE = 1024 * 1024;

class Walker {
  readonly issues: OperationOutcomeIssue[] = [];
  readonly shapeIssues: OperationOutcomeIssue[] = [];
  unknownNestedType = false;
  badReferences: Set<string> | undefined;
  /** False once the pass met something Medplum's validator would report in its own words. */
  predictable = true;
  readonly targetWarnings: OperationOutcomeIssue[] = [];
  /** FHIRPath's %rootResource and %resource, for invariants. */
  root!: TypedValue;
  currentResource!: Json;

  /** The resource being validated: its own invariants first, as Medplum does. */
  top(resource: Json, type: string): void {
    this.root = { type, value: resource };
    this.currentResource = resource;
    const schema = objectSchema(type);
    if (!schema) {
      this.predictable = false;
      return;
    }
    this.checkInvariants(schema.invariants, this.root);
    this.resource(resource, type, type, undefined);
  }

  /** Walks a resource whose resourceType is known; `container` is set for contained resources. */
  resource(resource: Json, type: string, path: string, container: Container | undefined): void {
    const id = resource.id;
    if (typeof id === 'string' && !isValidId(id)) {
      this.issues.push(issueAt(`${path}.id`, `Invalid resource id "${id}": ids are 1-64 of [A-Za-z0-9-.]`, 'value'));
    }
    const schema = objectSchema(type);
    if (!schema) {
      this.predictable = false;
      return;
    }
    const outer = this.currentResource;
    this.currentResource = resource;
    this.object(resource, schema, path, container ?? { resource }, true);
    this.currentResource = outer;
  }

  object(obj: Json, schema: ObjectSchema, path: string, container: Container, isResource = false): void {
    let choices: Map<string, string> | undefined;
    for (const key in obj) {
      const value = obj[key];
      if (value === undefined) continue; // absent, for Medplum too
      const prop = schema.props.get(key);
      if (!prop) {
        this.unlistedProperty(obj, key, value, schema, path, container, isResource);
        continue;
      }
      if (value === null) {
        this.predictable = false; // "Invalid null value" (Medplum)
        continue;
      }
      const at = `${path}.${prop.step}`;
      if (prop.choiceOf) choices = this.choice(choices, prop, key, path);
      // With a `_name` partner, Medplum's value is a String object carrying the extensions: its invariants are not predicted.
      if (prop.kind === 'primitive' && prop.invariants.length > 0 && obj[`_${key}`] !== undefined) this.predictable = false;
      if (Array.isArray(value)) this.array(obj, value, prop, at, container);
      else this.single(value, prop, at, container, isResource);
    }
    if (this.predictable && !hasRequired(obj, schema)) this.predictable = false;
  }

  /** `resourceType`, a primitive's `_name` partner, or a property R4 does not define. */
  unlistedProperty(obj: Json, key: string, value: unknown, schema: ObjectSchema, path: string, container: Container, isResource: boolean): void {
    if (key === 'resourceType') {
      if (!isResource) this.predictable = false;
      return;
    }
    if (key.charCodeAt(0) !== 95 /* _ */) {
      this.predictable = false; // "Invalid additional property" (Medplum)
      return;
    }
    // Medplum joins a partner to its primitive's value; alone, or of another choice type, it is Medplum's to judge.
    if (obj[key.slice(1)] === undefined) this.predictable = false;
    if (value !== null) this.primitiveExtension(obj, key, value, schema, path, container);
    else this.predictable = false;
  }

  choice(choices: Map<string, string> | undefined, prop: ElementProp, key: string, path: string): Map<string, string> {
    const seen = choices ?? new Map<string, string>();
    const base = prop.choiceOf as string;
    const other = seen.get(base);
    if (other) {
      this.predictable = false;
      this.issues.push(issueAt(`${path}.${base}`, `Only one of "${other}" and "${key}" may be present (${base}[x])`, 'structure'));
    } else {
      seen.set(base, key);
    }
    return seen;
  }

  array(obj: Json, value: unknown[], prop: ElementProp, at: string, container: Container): void {
    if (value.length === 0) {
      this.predictable = false;
      this.shapeIssues.push(issueAt(at, `Invalid empty array: omit "${prop.key}" instead`, 'structure'));
      return;
    }
    if (!prop.isArray || value.length < prop.min || value.length > prop.max) {
      this.predictable = false; // "Expected single value" or "Invalid number of values" (Medplum)
      if (!prop.isArray) return;
    }
    const partner = obj[`_${prop.key}`];
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item !== null && item !== undefined) this.value(item, prop, `${at}[${i}]`, container, true);
      else if (item === undefined || !isObject(Array.isArray(partner) ? partner[i] : undefined)) this.predictable = false;
    }
  }

  single(value: unknown, prop: ElementProp, at: string, container: Container, isResource: boolean): void {
    if (prop.isArray || prop.min > 1) {
      this.predictable = false; // "Expected array of values" (Medplum)
      return;
    }
    if (isResource && prop.key === 'id') {
      this.primitiveForMedplum(value, prop);
      return; // its syntax is checked in resource()
    }
    this.value(value, prop, at, container, false);
  }

  value(value: unknown, prop: ElementProp, at: string, container: Container, inArray: boolean): void {
    switch (prop.kind) {
      case 'primitive':
        this.primitive(value, prop, at, container, inArray);
        return;
      case 'complex':
        this.complex(value, prop, at, container, inArray);
        return;
      case 'resource':
        this.nestedResource(value, prop, at, container);
        return;
    }
  }

  primitive(value: unknown, prop: ElementProp, at: string, container: Container, inArray: boolean): void {
    this.primitiveForMedplum(value, prop);
    if (typeof value === 'number' && INTEGER_TYPES.has(prop.type) && (value > INT32_MAX || value < INT32_MIN)) {
      this.issues.push(issueAt(at, `Invalid ${prop.type} ${value}: FHIR integers are 32-bit, from ${INT32_MIN} to ${INT32_MAX}`, 'value'));
    }
    if (typeof value !== 'string') return;
    if (value === '') {
      if (!inArray) this.shapeIssues.push(issueAt(at, 'Invalid empty string: omit the element instead', 'value'));
      return;
    }
    if (prop.codes && !codeSetHas(prop.codes, value)) {
      this.issues.push(issueAt(at, codeNotInValueSetText(value, prop.codes), 'code-invalid'));
    } else if (prop.isReference) {
      this.reference(value, at, container);
    } else if (prop.dateType && !dayExists(value, prop.dateType)) {
      this.issues.push(issueAt(at, `Invalid date "${value}": that day does not exist`, 'value'));    } else if (prop.type === 'xhtml') {
      this.issues.push(...narrativeIssues(value, at));
    }
  }

  /** Medplum's checks of a primitive value: its JSON type, then its format or numeric range, then invariants. */
  primitiveForMedplum(value: unknown, prop: ElementProp): void {
    if (!this.predictable) return;
    if (typeof value !== prop.jsType) {
      this.predictable = false;
    } else if (typeof value === 'string') {
      if (!value.trim() || value.length > ONE_MEGABYTE || (prop.format && !prop.format.test(value))) this.predictable = false;
    } else if (typeof value === 'number') {
      if (!isAcceptedNumber(value, prop.type)) this.predictable = false;
    }
    if (prop.invariants.length > 0) this.checkInvariants(prop.invariants, { type: prop.type, value });
  }

  complex(value: unknown, prop: ElementProp, at: string, container: Container, inArray: boolean): void {
    if (!isObject(value)) {
      this.predictable = false;
      this.shapeIssues.push(issueAt(at, `Expected an object (${prop.shapeLabel}), got ${Array.isArray(value) ? 'an array' : typeof value}`, 'structure'));
      return;
    }
    if (isEmptyObject(value)) {
      this.predictable = false; // "Invalid empty non-primitive value" (Medplum)
      if (!inArray) {
        this.shapeIssues.push(issueAt(at, 'Invalid empty object: omit the element instead', 'structure'));
        return;
      }
    }
    const schema = objectSchema(prop.type);
    if (!schema) {
      this.predictable = false;
      return;
    }
    this.checkInvariants(prop.invariants, { type: prop.type, value });
    if (prop.targetProfiles) this.referenceTarget(value, prop.targetProfiles, at);
    this.object(value, schema, at, container);
  }

  nestedResource(value: unknown, prop: ElementProp, at: string, container: Container): void {
    if (!isObject(value)) {
      this.predictable = false;
      this.issues.push(issueAt(at, `Expected a resource (a JSON object with a resourceType)`, 'structure'));
      return;
    }
    const type = value.resourceType;
    if (typeof type !== 'string' || !isResourceType(type)) {
      // Medplum stops at a resourceType it does not know, without saying where.
      if (type !== undefined) this.unknownNestedType = true;
      this.predictable = false;
      this.issues.push(
        typeof type === 'string'
          ? issueAt(`${at}.resourceType`, `Unknown resource type "${type}"`, 'value')
          : type === undefined
            ? issueAt(`${at}.resourceType`, 'A nested resource needs a resourceType', 'required')
            : issueAt(`${at}.resourceType`, 'resourceType must be a string', 'structure'),
      );
      return;
    }
    this.checkInvariants(prop.invariants, { type, value });
    // A contained resource's local references point into its container; other nested resources
    // (Bundle.entry.resource, Parameters.parameter.resource) are their own containers.
    this.resource(value, type, at, prop.key === 'contained' ? container : undefined);
  }

  /** `_birthDate: { extension: [...] }`, `_given: [null, { ... }]`: walked as Element, at the primitive's path. */
  primitiveExtension(obj: Json, key: string, value: unknown, schema: ObjectSchema, path: string, container: Container): void {
    const prop = schema.props.get(key.slice(1));
    if (!prop || prop.kind !== 'primitive') {
      this.predictable = false; // unknown property (Medplum)
      return;
    }
    if (prop.shadowsChoice) this.predictable = false;
    const element = objectSchema('Element');
    if (!element) return;
    const at = `${path}.${prop.step}`;
    if (Array.isArray(value)) {
      this.partnerArray(obj[prop.key], value, element, at, `${path}.${key}`, container);
    } else if (isObject(value)) {
      if (Array.isArray(obj[prop.key])) this.predictable = false;
      this.element(value, element, at, container);
    } else {
      this.predictable = false;
      this.shapeIssues.push(issueAt(`${path}.${key}`, `Invalid primitive extension: expected an object`, 'structure'));
    }
  }

  partnerArray(values: unknown, partners: unknown[], element: ObjectSchema, at: string, partnerPath: string, container: Container): void {
    if (!Array.isArray(values) || values.length !== partners.length) this.predictable = false;
    for (let i = 0; i < partners.length; i++) {
      const item: unknown = partners[i];
      if (isObject(item)) {
        this.element(item, element, `${at}[${i}]`, container);
      } else if (item !== null) {
        this.predictable = false;
        this.shapeIssues.push(issueAt(`${partnerPath}[${i}]`, `Invalid primitive extension: expected an object or null`, 'structure'));
      } else if (!Array.isArray(values) || !values[i]) {
        this.predictable = false; // "Invalid null value" (Medplum)
      }
    }
  }

  /** A primitive's extensions and id, which Medplum validates as an Element. */
  element(value: Json, element: ObjectSchema, at: string, container: Container): void {
    if (isEmptyObject(value)) this.predictable = false;
    this.object(value, element, at, container);
  }

  reference(reference: string, at: string, container: Container): void {
    const syntax = checkReferenceSyntax(reference);
    let problem: string | undefined;
    if (!syntax.ok) {
      problem = syntax.problem;
    } else if (syntax.kind === 'local' && syntax.localId !== '' && !containedIds(container).has(syntax.localId)) {
      problem = `Local reference "${reference}" does not match the id of a contained resource`;
    }
    if (problem) {
      this.issues.push(issueAt(at, problem, 'value'));
      (this.badReferences ??= new Set()).add(at.slice(0, -'.reference'.length));
    }
  }

  /** Medplum's target-type warning, in the order it would report it (only one is predicted). */
  referenceTarget(value: Json, targetProfiles: readonly string[], at: string): void {
    if (!this.predictable) return;
    const warning = referenceTargetWarning(value, targetProfiles, at);
    if (!warning) return;
    if (this.targetWarnings.length > 0) this.predictable = false;
    this.targetWarnings.push(warning);
  }

  checkInvariants(invariants: readonly Invariant[], value: TypedValue): void {
    if (!this.predictable) return;
    for (const invariant of invariants) {
      if (!invariantHolds(invariant, { value, resource: this.currentResource, root: this.root })) {
        this.predictable = false;
        return;
      }
    }
  }
}

/** Medplum's numeric checks (validateNumber). */
function isAcceptedNumber(n: number, type: string): boolean {
  if (!Number.isFinite(n)) return false;
  if (INTEGER_TYPES.has(type) && !Number.isInteger(n)) return false;
  if (type === 'positiveInt') return n > 0;
  if (type === 'unsignedInt') return n >= 0;
  return true;
}

/** Every element with a minimum cardinality has a value (a present value is non-null, or the walk has stopped predicting). */
function hasRequired(obj: Json, schema: ObjectSchema): boolean {
  for (const keys of schema.required) {
    if (!keys.some((key) => obj[key] !== undefined)) return false;
  }
  return true;
}

function containedIds(container: Container): Set<string> {
  if (container.containedIds) return container.containedIds;
  const ids = new Set<string>();
  const contained = container.resource.contained;
  if (Array.isArray(contained)) {
    for (const r of contained) if (isObject(r) && typeof r.id === 'string') ids.add(r.id);
  }
  container.containedIds = ids;
  return ids;
}

/** The R4 formats with a full date (datatypes.html), so that a value of the wrong format is reported once, by Medplum. */
const FULL_DATE: Record<DateType, RegExp> = {
  date: /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/,
  dateTime: /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00)))?$/,
  instant: /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00))$/,
};

/**
 * The FHIR date regexes (and so Medplum) accept any day 01-31 in any month: `2023-02-30`. The spec
 * says dates SHALL be valid dates. Only the day is checked here; the format is Medplum's.
 */
function dayExists(value: string, type: DateType): boolean {
  const match = FULL_DATE[type].exec(value);
  if (!match) return true;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  return day <= daysInMonth;
}

function isEmptyObject(obj: Json): boolean {
  for (const _ in obj) return false;
  return true;
}

/** Walks a resource whose top-level resourceType is already known to be valid. */
export function walkResource(resource: Json, resourceType: string): WalkResult {
  const walker = new Walker();
  walker.top(resource, resourceType);
  return {
    issues: walker.issues,
    shapeIssues: walker.shapeIssues,
    unknownNestedType: walker.unknownNestedType,
    badReferences: walker.badReferences ?? new Set(),
    structure: walker.predictable ? walker.targetWarnings : undefined,
  };
}
