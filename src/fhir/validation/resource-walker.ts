import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { isResourceType } from '../../definitions/index.js';
import { issueAt } from '../../errors.js';
import type { DateType, ElementProp, ObjectSchema } from './element-index.js';
import { objectSchema } from './element-index.js';
import { isValidId } from '../ids.js';
import { checkReferenceSyntax } from './reference-syntax.js';
import { codeNotInValueSetText, codeSetHas } from './required-bindings.js';

/**
 * One typed pass over a resource, driven by the compiled element definitions, checking what
 * Medplum's structural validator does not: resource ids (also of contained and nested resources),
 * `Reference.reference` syntax and local (`#id`) targets, required bindings of `code` elements,
 * nested resources' types, more than one choice-type property, and JSON shapes it lets through
 * (empty arrays, `""` and `{}` values, primitives where an object is expected).
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
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface Container {
  readonly resource: Json;
  containedIds?: Set<string>;
}

class Walker {
  readonly issues: OperationOutcomeIssue[] = [];
  readonly shapeIssues: OperationOutcomeIssue[] = [];
  unknownNestedType = false;
  badReferences: Set<string> | undefined;

  /** Walks a resource whose resourceType is known; `container` is set for contained resources. */
  resource(resource: Json, type: string, path: string, container: Container | undefined): void {
    const id = resource.id;
    if (typeof id === 'string' && !isValidId(id)) {
      this.issues.push(issueAt(`${path}.id`, `Invalid resource id "${id}": ids are 1-64 of [A-Za-z0-9-.]`, 'value'));
    }
    const schema = objectSchema(type);
    if (schema) this.object(resource, schema, path, container ?? { resource }, true);
  }

  object(obj: Json, schema: ObjectSchema, path: string, container: Container, isResource = false): void {
    let choices: Map<string, string> | undefined;
    for (const key in obj) {
      const value = obj[key];
      const prop = schema.props.get(key);
      if (!prop) {
        if (key.charCodeAt(0) === 95 /* _ */ && value !== null) this.primitiveExtension(key, value, schema, path, container);
        continue; // resourceType, or an unknown property (reported by Medplum)
      }
      if (value === null || value === undefined) continue; // reported by Medplum
      const at = `${path}.${prop.step}`;
      if (prop.choiceOf) {
        choices ??= new Map();
        const other = choices.get(prop.choiceOf);
        if (other) {
          this.issues.push(
            issueAt(`${path}.${prop.choiceOf}`, `Only one of "${other}" and "${key}" may be present (${prop.choiceOf}[x])`, 'structure'),
          );
        } else {
          choices.set(prop.choiceOf, key);
        }
      }
      if (Array.isArray(value)) {
        if (value.length === 0) {
          this.shapeIssues.push(issueAt(at, `Invalid empty array: omit "${key}" instead`, 'structure'));
          continue;
        }
        if (!prop.isArray) continue; // "Expected single value" (Medplum)
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          if (item !== null && item !== undefined) this.value(item, prop, `${at}[${i}]`, container, true);
        }
      } else {
        if (prop.isArray) continue; // "Expected array" (Medplum)
        if (isResource && key === 'id') continue; // checked in resource()
        this.value(value, prop, at, container, false);
      }
    }
  }

  value(value: unknown, prop: ElementProp, at: string, container: Container, inArray: boolean): void {
    switch (prop.kind) {
      case 'primitive':
        if (typeof value !== 'string') return; // JSON type mismatches: Medplum
        if (value === '') {
          if (!inArray) this.shapeIssues.push(issueAt(at, 'Invalid empty string: omit the element instead', 'value'));
          return;
        }
        if (prop.codes && !codeSetHas(prop.codes, value)) {
          this.issues.push(issueAt(at, codeNotInValueSetText(value, prop.codes), 'code-invalid'));
        } else if (prop.isReference) {
          this.reference(value, at, container);
        } else if (prop.dateType && !dayExists(value, prop.dateType)) {
          this.issues.push(issueAt(at, `Invalid date "${value}": that day does not exist`, 'value'));
        }
        return;
      case 'complex': {
        if (!isObject(value)) {
          this.shapeIssues.push(issueAt(at, `Expected an object (${prop.shape}), got ${Array.isArray(value) ? 'an array' : typeof value}`, 'structure'));
          return;
        }
        if (!inArray && isEmptyObject(value)) {
          this.shapeIssues.push(issueAt(at, 'Invalid empty object: omit the element instead', 'structure'));
          return;
        }
        const schema = objectSchema(prop.shape as string);
        if (schema) this.object(value, schema, at, container);
        return;
      }
      case 'resource': {
        if (!isObject(value)) {
          this.issues.push(issueAt(at, `Expected a resource (a JSON object with a resourceType)`, 'structure'));
          return;
        }
        const type = value.resourceType;
        if (typeof type !== 'string' || !isResourceType(type)) {
          // Medplum stops at a resourceType it does not know, without saying where.
          if (type !== undefined) this.unknownNestedType = true;
          this.issues.push(
            typeof type === 'string'
              ? issueAt(`${at}.resourceType`, `Unknown resource type "${type}"`, 'value')
              : type === undefined
                ? issueAt(`${at}.resourceType`, 'A nested resource needs a resourceType', 'required')
                : issueAt(`${at}.resourceType`, 'resourceType must be a string', 'structure'),
          );
          return;
        }
        // A contained resource's local references point into its container; other nested resources
        // (Bundle.entry.resource, Parameters.parameter.resource) are their own containers.
        this.resource(value, type, at, prop.key === 'contained' ? container : undefined);
        return;
      }
    }
  }

  /** `_birthDate: { extension: [...] }`, `_given: [null, { ... }]`: walked as Element, at the primitive's path. */
  primitiveExtension(key: string, value: unknown, schema: ObjectSchema, path: string, container: Container): void {
    const prop = schema.props.get(key.slice(1));
    if (!prop || prop.kind !== 'primitive') return; // unknown property (Medplum)
    const element = objectSchema('Element');
    if (!element) return;
    const at = `${path}.${prop.step}`;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        if (isObject(item)) this.object(item, element, `${at}[${i}]`, container);
        else if (item !== null) this.shapeIssues.push(issueAt(`${path}.${key}[${i}]`, `Invalid primitive extension: expected an object or null`, 'structure'));
      }
    } else if (isObject(value)) {
      this.object(value, element, at, container);
    } else {
      this.shapeIssues.push(issueAt(`${path}.${key}`, `Invalid primitive extension: expected an object`, 'structure'));
    }
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
  walker.resource(resource, resourceType, resourceType, undefined);
  return {
    issues: walker.issues,
    shapeIssues: walker.shapeIssues,
    unknownNestedType: walker.unknownNestedType,
    badReferences: walker.badReferences ?? new Set(),
  };
}
