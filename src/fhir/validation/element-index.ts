import type { ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';
import { isResourceType, structureDefinition } from '../../definitions/index.js';
import type { CodeSet } from './required-bindings.js';
import { requiredCodeSet } from './required-bindings.js';

/**
 * The element definitions of the R4 StructureDefinitions, compiled per JSON object shape (a resource,
 * a data type, or a backbone element) into a map from JSON property name to what the walker needs.
 * Compiled lazily, once per shape, and cached for the life of the process.
 */

export type PropKind = 'primitive' | 'complex' | 'resource';

export type DateType = 'date' | 'dateTime' | 'instant';

export interface ElementProp {
  /** JSON property name: `gender`, `valueQuantity`. */
  readonly key: string;
  /** FHIRPath step: `gender`, `value.ofType(Quantity)`. */
  readonly step: string;
  readonly kind: PropKind;
  readonly isArray: boolean;
  /** For choice elements (`value[x]`): the base name (`value`). */
  readonly choiceOf?: string;
  /** For `code` values bound to a value set with strength required (and expandable). */
  readonly codes?: CodeSet;
  /** `Reference.reference`. */
  readonly isReference?: boolean;
  /** For `date`, `dateTime` and `instant` values, whose day must exist in its month: which of them. */
  readonly dateType?: DateType;
  /** For complex values: the shape key of the value's schema. */
  readonly shape?: string;
}

export interface ObjectSchema {
  /** `Patient`, `HumanName`, `Patient.contact`. */
  readonly name: string;
  readonly props: ReadonlyMap<string, ElementProp>;
  readonly hasChoices: boolean;
}

const FHIRPATH_SYSTEM = 'http://hl7.org/fhirpath/System.';

/** R4 primitive types, whose JSON values are strings, numbers or booleans. */
export const PRIMITIVE_TYPES: ReadonlySet<string> = new Set([
  'base64Binary', 'boolean', 'canonical', 'code', 'date', 'dateTime', 'decimal', 'id', 'instant', 'integer',
  'markdown', 'oid', 'positiveInt', 'string', 'time', 'unsignedInt', 'uri', 'url', 'uuid', 'xhtml',
]);

/** Elements of a StructureDefinition's snapshot grouped by parent path. */
const childrenBySd = new Map<string, Map<string, ElementDefinition[]>>();

function childrenOf(sdType: string): Map<string, ElementDefinition[]> | undefined {
  let children = childrenBySd.get(sdType);
  if (children) return children;
  const sd: StructureDefinition | undefined = structureDefinition(sdType);
  if (!sd?.snapshot?.element) return undefined;
  children = new Map();
  for (const el of sd.snapshot.element) {
    if (el.sliceName) continue; // base R4 has none; a slice never adds a JSON property
    const dot = el.path.lastIndexOf('.');
    if (dot < 0) continue;
    const parent = el.path.slice(0, dot);
    let list = children.get(parent);
    if (!list) children.set(parent, (list = []));
    list.push(el);
  }
  childrenBySd.set(sdType, children);
  return children;
}

const schemas = new Map<string, ObjectSchema | null>();

/**
 * The schema of a JSON object shape: a type name (`Patient`, `HumanName`, `Element`) or a
 * backbone element path qualified by its definition (`Patient.contact`, `Timing.repeat`).
 */
export function objectSchema(shape: string): ObjectSchema | undefined {
  let schema = schemas.get(shape);
  if (schema === undefined) {
    schema = compile(shape) ?? null;
    schemas.set(shape, schema);
  }
  return schema ?? undefined;
}

function compile(shape: string): ObjectSchema | undefined {
  const dot = shape.indexOf('.');
  const sdType = dot < 0 ? shape : shape.slice(0, dot);
  const elements = childrenOf(sdType)?.get(shape);
  if (!elements) return undefined;
  const props = new Map<string, ElementProp>();
  let hasChoices = false;
  for (const el of elements) {
    const name = el.path.slice(shape.length + 1);
    const isArray = el.max !== '1' && el.max !== '0';
    const codes = el.binding?.strength === 'required' && el.binding.valueSet ? requiredCodeSet(el.binding.valueSet) : undefined;
    if (el.contentReference) {
      // '#Questionnaire.item' (R4) or 'http://...#Questionnaire.item'
      const target = el.contentReference.slice(el.contentReference.indexOf('#') + 1);
      props.set(name, { key: name, step: name, kind: 'complex', isArray, shape: target });
      continue;
    }
    const types = el.type ?? [];
    if (name.endsWith('[x]')) {
      hasChoices = true;
      const base = name.slice(0, -3);
      for (const t of types) {
        const key = base + t.code.charAt(0).toUpperCase() + t.code.slice(1);
        props.set(key, prop(key, `${base}.ofType(${t.code})`, t.code, el, isArray, t.code === 'code' ? codes : undefined, base));
      }
      continue;
    }
    const code = types[0]?.code;
    if (!code) continue;
    props.set(name, prop(name, name, code, el, isArray, code === 'code' ? codes : undefined));
  }
  if (sdType === 'Reference') {
    const ref = props.get('reference');
    if (ref) props.set('reference', { ...ref, isReference: true });
  }
  return { name: shape, props, hasChoices };
}

function prop(
  key: string,
  step: string,
  typeCode: string,
  el: ElementDefinition,
  isArray: boolean,
  codes: CodeSet | undefined,
  choiceOf?: string,
): ElementProp {
  const base = { key, step, isArray, ...(choiceOf ? { choiceOf } : {}) };
  if (PRIMITIVE_TYPES.has(typeCode) || typeCode.startsWith(FHIRPATH_SYSTEM)) {
    const dateType = typeCode === 'date' || typeCode === 'dateTime' || typeCode === 'instant' ? typeCode : undefined;
    return { ...base, kind: 'primitive', ...(codes ? { codes } : {}), ...(dateType ? { dateType } : {}) };
  }
  if (typeCode === 'Resource' || typeCode === 'DomainResource' || isResourceType(typeCode)) {
    return { ...base, kind: 'resource' };
  }
  if (typeCode === 'BackboneElement' || (typeCode === 'Element' && el.path.includes('.'))) {
    // An inline (backbone) element: its children are defined under its own path.
    return { ...base, kind: 'complex', shape: el.path };
  }
  return { ...base, kind: 'complex', shape: typeCode };
}

/** Compiles the schemas of every resource type and of everything reachable from them (start-up warm-up). */
export function compileAllSchemas(resourceTypes: readonly string[]): number {
  const seen = new Set<string>();
  const visit = (shape: string): void => {
    if (seen.has(shape)) return;
    seen.add(shape);
    const schema = objectSchema(shape);
    if (!schema) return;
    for (const p of schema.props.values()) if (p.shape) visit(p.shape);
  };
  visit('Element');
  for (const type of resourceTypes) visit(type);
  return seen.size;
}
