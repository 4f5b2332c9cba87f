import type { InternalSchemaElement, InternalTypeSchema } from '@medplum/core';
import { capitalize, fhirTypeToJsType, tryGetDataType, validationRegexes } from '@medplum/core';
import { isResourceType } from '../../definitions/index.js';
import type { Invariant } from './invariants.js';
import { compileInvariants } from './invariants.js';
import type { CodeSet } from './required-bindings.js';
import { requiredCodeSet } from './required-bindings.js';

/**
 * The R4 element definitions, compiled per JSON object shape (a resource, a data type, or a backbone
 * element) into a map from JSON property name to what the walker needs. The source is @medplum/core's
 * own parse of the StructureDefinitions (its type schemas), so that the walker's cardinalities, types
 * and invariants are exactly the ones Medplum's validator would apply.
 * Compiled lazily, once per shape, and cached for the life of the process.
 */

export type PropKind = 'primitive' | 'complex' | 'resource';

export type DateType = 'date' | 'dateTime' | 'instant';

export type JsType = 'string' | 'number' | 'boolean';

export interface ElementProp {
  /** JSON property name: `gender`, `valueQuantity`. */
  readonly key: string;
  /** FHIRPath step: `gender`, `value.ofType(Quantity)`. */
  readonly step: string;
  readonly kind: PropKind;
  /** Medplum's type name of the value: `code`, `HumanName`, `PatientContact`, `Resource`. */
  readonly type: string;
  readonly isArray: boolean;
  readonly min: number;
  readonly max: number;
  /** For choice elements (`value[x]`): the base name (`value`). */
  readonly choiceOf?: string;
  /** For primitives: the JSON type of the value. */
  readonly jsType?: JsType;
  /** For string primitives: the format Medplum checks. */
  readonly format?: RegExp;
  /** For `code` values bound to a value set with strength required (and expandable). */
  readonly codes?: CodeSet;
  /** `Reference.reference`. */
  readonly isReference?: boolean;
  /** For Reference values: the target profiles of the element, when it restricts them. */
  readonly targetProfiles?: readonly string[];
  /** For `date`, `dateTime` and `instant` values, whose day must exist in its month: which of them. */
  readonly dateType?: DateType;
  /** For complex values: how messages name the expected shape (`HumanName`, `Patient.contact`). */
  readonly shapeLabel?: string;
  /** The invariants Medplum evaluates on each value of the element. */
  readonly invariants: readonly Invariant[];
  /**
   * The name extends a choice element's (`amountText` and `amount[x]` in SubstanceAmount): Medplum
   * takes its `_name` partner for one of the choice's, with a warning of its own.
   */
  readonly shadowsChoice?: boolean;
}

export interface ObjectSchema {
  /** `Patient`, `HumanName`, `PatientContact`. */
  readonly name: string;
  readonly props: ReadonlyMap<string, ElementProp>;
  /** The JSON properties of each element with a minimum cardinality: one of each list must be present. */
  readonly required: readonly (readonly string[])[];
  /** The invariants of the type itself (Medplum checks them on the validated resource only). */
  readonly invariants: readonly Invariant[];
}

/** R4 primitive types, whose JSON values are strings, numbers or booleans. */
export const PRIMITIVE_TYPES: ReadonlySet<string> = new Set([
  'base64Binary', 'boolean', 'canonical', 'code', 'date', 'dateTime', 'decimal', 'id', 'instant', 'integer',
  'markdown', 'oid', 'positiveInt', 'string', 'time', 'unsignedInt', 'uri', 'url', 'uuid', 'xhtml',
]);

const schemas = new Map<string, ObjectSchema | null>();

/** The schema of a JSON object shape, by Medplum's type name (`Patient`, `HumanName`, `PatientContact`). */
export function objectSchema(type: string): ObjectSchema | undefined {
  let schema = schemas.get(type);
  if (schema === undefined) {
    const source = tryGetDataType(type);
    schema = source ? compile(source) : null;
    schemas.set(type, schema);
  }
  return schema ?? undefined;
}

function compile(source: InternalTypeSchema): ObjectSchema {
  const props = new Map<string, ElementProp>();
  const required: string[][] = [];
  for (const [name, element] of Object.entries(source.elements)) {
    const keys = name.endsWith('[x]') ? compileChoice(name.slice(0, -3), element, props) : compileSingle(name, element, props);
    if (element.min > 0) required.push(keys);
  }
  if (source.type === 'Reference') {
    const ref = props.get('reference');
    if (ref) props.set('reference', { ...ref, isReference: true });
  }
  markChoiceShadows(props);
  return { name: source.name, props, required, invariants: compileInvariants(source.constraints) };
}

function markChoiceShadows(props: Map<string, ElementProp>): void {
  const bases = new Set<string>();
  for (const p of props.values()) if (p.choiceOf) bases.add(p.choiceOf);
  for (const p of props.values()) {
    if (p.choiceOf) continue;
    for (const base of bases) {
      if (p.key.length > base.length && p.key.startsWith(base) && isUpperCase(p.key.charAt(base.length))) props.set(p.key, { ...p, shadowsChoice: true });
    }
  }
}

function isUpperCase(c: string): boolean {
  return c >= 'A' && c <= 'Z';
}

function compileChoice(base: string, element: InternalSchemaElement, props: Map<string, ElementProp>): string[] {
  const keys: string[] = [];
  for (const t of element.type) {
    const key = base + capitalize(t.code);
    props.set(key, prop(key, `${base}.ofType(${t.code})`, t.code, element, base));
    keys.push(key);
  }
  return keys;
}

function compileSingle(name: string, element: InternalSchemaElement, props: Map<string, ElementProp>): string[] {
  const code = element.type[0]?.code;
  if (!code) return []; // an element without a type: Medplum ignores its values, the walker cannot check them
  props.set(name, prop(name, name, code, element));
  return [name];
}

function prop(key: string, step: string, type: string, element: InternalSchemaElement, choiceOf?: string): ElementProp {
  const base = {
    key,
    step,
    type,
    isArray: element.isArray === true,
    min: element.min,
    max: element.max,
    invariants: compileInvariants(element.constraints),
    ...(choiceOf ? { choiceOf } : {}),
  };
  if (type in fhirTypeToJsType) {
    const codes = type === 'code' && element.binding?.strength === 'required' && element.binding.valueSet ? requiredCodeSet(element.binding.valueSet) : undefined;
    const dateType = type === 'date' || type === 'dateTime' || type === 'instant' ? type : undefined;
    const format = validationRegexes[type];
    return {
      ...base,
      kind: 'primitive',
      jsType: fhirTypeToJsType[type as keyof typeof fhirTypeToJsType],
      ...(format ? { format } : {}),
      ...(codes ? { codes } : {}),
      ...(dateType ? { dateType } : {}),
    };
  }
  if (type === 'Resource' || type === 'DomainResource' || isResourceType(type)) return { ...base, kind: 'resource' };
  const targetProfiles = type === 'Reference' ? element.type.find((t) => t.code === 'Reference')?.targetProfile : undefined;
  return {
    ...base,
    kind: 'complex',
    shapeLabel: tryGetDataType(type)?.path ?? type,
    ...(targetProfiles ? { targetProfiles } : {}),
  };
}

/** Compiles the schemas of every resource type and of everything reachable from them (start-up warm-up). */
export function compileAllSchemas(resourceTypes: readonly string[]): number {
  const seen = new Set<string>();
  const visit = (type: string): void => {
    if (seen.has(type)) return;
    seen.add(type);
    const schema = objectSchema(type);
    if (!schema) return;
    for (const p of schema.props.values()) if (p.kind === 'complex') visit(p.type);
  };
  visit('Element');
  for (const type of resourceTypes) visit(type);
  return seen.size;
}
