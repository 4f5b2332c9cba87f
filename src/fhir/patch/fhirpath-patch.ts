import type { ElementDefinition, Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';
import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4';
import { structureDefinition } from '../../definitions/index.js';
import { errors } from '../../errors.js';
import { assertSameIdentity } from './json-patch.js';

/**
 * FHIRPath Patch (https://hl7.org/fhir/R4/fhirpatch.html): a Parameters resource with one `operation`
 * parameter per change, each selecting elements with a FHIRPath expression. Operations apply in order
 * to a copy of the resource; the first one that fails rejects the whole patch.
 */
export function applyFhirPathPatch(resource: Resource, patch: Parameters): Resource {
  const parameters = patch?.resourceType === 'Parameters' ? (patch.parameter ?? []) : undefined;
  if (!Array.isArray(parameters)) throw errors.invalidPatch('a FHIRPath Patch must be a Parameters resource');
  const patched = structuredClone(resource) as unknown as JsonObject;
  parameters.forEach((parameter, i) => {
    try {
      applyOperation(patched, readOperation(parameter));
    } catch (err) {
      if (err instanceof InvalidOperation) throw errors.invalidPatch(`operation ${i + 1}: ${err.message}`, `Parameters.parameter[${i}]`);
      throw err;
    }
  });
  assertSameIdentity(resource, patched);
  return patched as unknown as Resource;
}

type JsonObject = Record<string, unknown>;

/** What is wrong with one operation; applyFhirPathPatch adds which operation it was. */
class InvalidOperation extends Error {}

/** A part's value: a value[x] (with the type its name carries), a resource, or parts naming the elements of a complex value. */
type PatchValue = { type?: string; value: unknown } | { parts: ParametersParameter[] };

type Operation =
  | { type: 'add'; path: string; name: string; value: PatchValue }
  | { type: 'insert'; path: string; index: number; value: PatchValue }
  | { type: 'delete'; path: string }
  | { type: 'replace'; path: string; value: PatchValue }
  | { type: 'move'; path: string; source: number; destination: number };

function readOperation(parameter: ParametersParameter): Operation {
  if (parameter?.name !== 'operation') throw new InvalidOperation(`parameters must be named "operation", not "${parameter?.name}"`);
  const parts = Array.isArray(parameter.part) ? parameter.part : [];
  const type = stringPart(parts, 'type');
  const path = stringPart(parts, 'path');
  switch (type) {
    case 'add':
      return { type, path, name: stringPart(parts, 'name'), value: readValue(requirePart(parts, 'value')) };
    case 'insert':
      return { type, path, index: indexPart(parts, 'index'), value: readValue(requirePart(parts, 'value')) };
    case 'delete':
      return { type, path };
    case 'replace':
      return { type, path, value: readValue(requirePart(parts, 'value')) };
    case 'move':
      return { type, path, source: indexPart(parts, 'source'), destination: indexPart(parts, 'destination') };
    default:
      throw new InvalidOperation(`unknown type "${type}" (expected add, insert, delete, replace or move)`);
  }
}

function requirePart(parts: ParametersParameter[], name: string): ParametersParameter {
  const found = parts.filter((part) => part?.name === name);
  if (found.length !== 1) throw new InvalidOperation(`needs exactly one "${name}" part, found ${found.length}`);
  return found[0];
}

function readValue(part: ParametersParameter): PatchValue {
  if (typeof part !== 'object' || part === null) throw new InvalidOperation('parts must be objects');
  const values = Object.entries(part).filter(([key]) => /^value[A-Z]/.test(key));
  if (values.length > 1) throw new InvalidOperation(`part "${part.name}" has more than one value[x]`);
  if (values.length === 1) return { type: values[0][0].slice('value'.length), value: values[0][1] };
  if (part.resource) return { value: part.resource };
  if (Array.isArray(part.part) && part.part.length > 0) return { parts: part.part };
  throw new InvalidOperation(`part "${part.name}" has no value`);
}

function stringPart(parts: ParametersParameter[], name: string): string {
  const value = readValue(requirePart(parts, name));
  if (!('value' in value) || typeof value.value !== 'string' || value.value === '') {
    throw new InvalidOperation(`part "${name}" must be a non-empty string`);
  }
  return value.value;
}

function indexPart(parts: ParametersParameter[], name: string): number {
  const value = readValue(requirePart(parts, name));
  if (!('value' in value) || !Number.isInteger(value.value) || (value.value as number) < 0) {
    throw new InvalidOperation(`part "${name}" must be a non-negative integer`);
  }
  return value.value as number;
}

function applyOperation(resource: JsonObject, operation: Operation): void {
  switch (operation.type) {
    case 'add':
      return add(selectOne(resource, operation.path), operation.name, operation.value);
    case 'insert':
      return insert(selectList(resource, operation.path), operation.index, operation.value);
    case 'delete': {
      // Deleting something that is not there is a success: the outcome is what the client asked for.
      const node = selectAtMostOne(resource, operation.path);
      if (node) remove(node);
      return;
    }
    case 'replace':
      return replace(selectOne(resource, operation.path), operation.value);
    case 'move':
      return move(selectList(resource, operation.path), operation.source, operation.destination);
  }
}

// ---- Selecting elements -------------------------------------------------------------------------

/**
 * An element of the resource as fhirpath returns it with `resolveInternalTypes: false` (its ResourceNode):
 * the data, the node of the object holding it, and the property name and array index it has there.
 * `path` is the element's type, or the path of its definition for backbone elements (`Patient.contact`).
 */
interface ElementNode {
  data: unknown;
  path: string | null;
  parentResNode: ElementNode | null;
  propName: string | null;
  index: number | null;
  fhirNodeDataType: string | null;
}

function select(resource: JsonObject, path: string): ElementNode[] {
  let results: unknown[];
  try {
    results = fhirpath.evaluate(resource, path, {}, r4model, { resolveInternalTypes: false });
  } catch (err) {
    throw new InvalidOperation(`cannot evaluate path "${path}": ${err instanceof Error ? err.message : String(err)}`);
  }
  // Only elements reached by navigating from the resource can be changed, not computed values (`'a' + 'b'`).
  if (!results.every((result) => isElementOf(result, resource))) {
    throw new InvalidOperation(`path "${path}" must select elements of the resource`);
  }
  return results as ElementNode[];
}

function isElementOf(result: unknown, resource: JsonObject): boolean {
  if (typeof result !== 'object' || result === null || !('parentResNode' in result)) return false;
  let node = result as ElementNode;
  while (node.parentResNode) node = node.parentResNode;
  return node.data === resource;
}

function selectAtMostOne(resource: JsonObject, path: string): ElementNode | undefined {
  const nodes = select(resource, path);
  if (nodes.length > 1) throw new InvalidOperation(`path "${path}" matches ${nodes.length} elements; it must match one`);
  return nodes[0];
}

function selectOne(resource: JsonObject, path: string): ElementNode {
  const node = selectAtMostOne(resource, path);
  if (!node) throw new InvalidOperation(`path "${path}" matches nothing`);
  return node;
}

/** Where an element is stored: the object holding it, its JSON property there, its index if it is in a list. */
interface Slot {
  owner: JsonObject;
  name: string;
  key: string;
  index: number | null;
  element: ElementDefinition;
}

function slotOf(node: ElementNode): Slot {
  const parent = node.parentResNode;
  if (!parent || !node.propName) throw new InvalidOperation('the path selects the resource itself');
  const element = requireElement(parent.path, node.propName);
  // fhirpath names a choice element without its type (`deceased`); JSON stores it with it (`deceasedBoolean`).
  const key = isChoice(element) ? node.propName + upperFirst(node.fhirNodeDataType ?? '') : node.propName;
  return { owner: parent.data as JsonObject, name: node.propName, key, index: node.index, element };
}

/** The path of insert and move names a whole list (`Patient.identifier`), which fhirpath returns as its items. */
function selectList(resource: JsonObject, path: string): Slot & { list: unknown[] } {
  const nodes = select(resource, path);
  if (nodes.length === 0) throw new InvalidOperation(`path "${path}" matches nothing`);
  const slot = slotOf(nodes[0]);
  const list = slot.owner[slot.key];
  const isWholeList =
    Array.isArray(list) &&
    list.length === nodes.length &&
    nodes.every((node, i) => node.parentResNode?.data === slot.owner && node.propName === slot.name && node.index === i);
  if (!isWholeList) throw new InvalidOperation(`path "${path}" must select all the items of one list`);
  return { ...slot, list };
}

// ---- The operations -----------------------------------------------------------------------------

function add(container: ElementNode, name: string, value: PatchValue): void {
  if (!isJsonObject(container.data)) throw new InvalidOperation(`cannot add "${name}" to a primitive value`);
  addElement(container.data, name, requireElement(container.path, name), value);
}

function insert({ owner, key, list, element }: Slot & { list: unknown[] }, index: number, value: PatchValue): void {
  if (index > list.length) throw new InvalidOperation(`index ${index} is past the end of the list (${list.length} items)`);
  list.splice(index, 0, materialize(value, element));
  primitiveExtensions(owner, key)?.splice(index, 0, null);
}

function move({ owner, key, list }: Slot & { list: unknown[] }, source: number, destination: number): void {
  if (source >= list.length || destination >= list.length) {
    throw new InvalidOperation(`source ${source} and destination ${destination} must be indexes of the list (${list.length} items)`);
  }
  for (const array of [list, primitiveExtensions(owner, key)]) array?.splice(destination, 0, ...array.splice(source, 1));
}

function replace(node: ElementNode, value: PatchValue): void {
  const { owner, name, key, index, element } = slotOf(node);
  const replacement = materialize(value, element);
  if (index !== null) {
    (owner[key] as unknown[])[index] = replacement;
    return;
  }
  // Replacing a choice element may change its type, and so its JSON property (deceasedBoolean -> deceasedDateTime).
  // Otherwise a primitive keeps its extensions (`_birthDate`): only its value is replaced.
  const newKey = jsonName(name, element, value);
  if (newKey !== key) deleteProperty(owner, key);
  owner[newKey] = replacement;
}

/** Removes an element with its primitive extensions, then any object that leaves empty: FHIR has no empty elements. */
function remove(node: ElementNode): void {
  const { owner, key, index } = slotOf(node);
  if (index === null) {
    deleteProperty(owner, key);
  } else {
    for (const array of [owner[key] as unknown[], primitiveExtensions(owner, key)]) array?.splice(index, 1);
    if ((owner[key] as unknown[]).length === 0) deleteProperty(owner, key);
    else if (primitiveExtensions(owner, key)?.every((extension) => extension === null)) delete owner[`_${key}`];
  }
  const ownerNode = node.parentResNode;
  if (Object.keys(owner).length === 0 && ownerNode?.parentResNode) remove(ownerNode);
}

// ---- Building and storing values ----------------------------------------------------------------

/** Adds element `name` to `owner`: appended if the element repeats, otherwise only if it has no value yet. */
function addElement(owner: JsonObject, name: string, element: ElementDefinition, value: PatchValue): void {
  const key = jsonName(name, element, value);
  const item = materialize(value, element);
  if (isList(element)) {
    owner[key] = [...(Array.isArray(owner[key]) ? owner[key] : []), item];
    primitiveExtensions(owner, key)?.push(null); // `_given` stays as long as `given`
  } else if (hasValue(owner, name, element)) {
    throw new InvalidOperation(`${element.path} already has a value (use replace)`);
  } else {
    owner[key] = item;
  }
}

/** The JSON to store: a copy of the given value, or an object built from parts named after the element's children. */
function materialize(value: PatchValue, element: ElementDefinition): unknown {
  if (!('parts' in value)) return structuredClone(value.value);
  const typePath = childrenPath(element);
  const built: JsonObject = {};
  for (const part of value.parts) {
    const partValue = readValue(part);
    addElement(built, part.name, requireElement(typePath, part.name), partValue);
  }
  return built;
}

/** Where an element's children are defined: under its own path for anonymous (backbone) types, else by its type. */
function childrenPath(element: ElementDefinition): string {
  if (element.contentReference) return element.contentReference.slice(1); // e.g. Questionnaire.item.item -> #Questionnaire.item
  const types = element.type ?? [];
  if (types.length !== 1) throw new InvalidOperation(`${element.path} is a choice of types: give its value as a value[x]`);
  return types[0].code === 'BackboneElement' || types[0].code === 'Element' ? (element.path as string) : types[0].code;
}

/** The JSON property of element `name`: a choice element (deceased[x]) carries the type of its value (deceasedBoolean). */
function jsonName(name: string, element: ElementDefinition, value: PatchValue): string {
  if (!isChoice(element)) return name;
  const type = 'type' in value ? value.type : undefined;
  if (!type) throw new InvalidOperation(`${element.path} is a choice of types: give its value as a value[x]`);
  return name + type;
}

function hasValue(owner: JsonObject, name: string, element: ElementDefinition): boolean {
  const keys = isChoice(element) ? (element.type ?? []).map((type) => name + upperFirst(type.code)) : [name];
  return keys.some((key) => owner[key] !== undefined);
}

/** The definition of element `name` of the type, or backbone element, at `typePath` (`HumanName`, `Patient.contact`). */
function requireElement(typePath: string | null, name: string | undefined): ElementDefinition {
  const paths = [`${typePath}.${name}`, `${typePath}.${name}[x]`];
  const element =
    typePath && name && /^\w+$/.test(name)
      ? structureDefinition(typePath.split('.')[0])?.snapshot?.element?.find((candidate) => paths.includes(candidate.path as string))
      : undefined;
  if (!element) throw new InvalidOperation(`${typePath} has no element "${name}"`);
  return element;
}

function isList(element: ElementDefinition): boolean {
  return element.max === '*' || Number(element.max) > 1;
}

function isChoice(element: ElementDefinition): boolean {
  return element.path?.endsWith('[x]') ?? false;
}

/** The `_given` array carrying the ids and extensions of the primitives in `given`, if any. */
function primitiveExtensions(owner: JsonObject, key: string): unknown[] | undefined {
  const extensions = owner[`_${key}`];
  return Array.isArray(extensions) ? extensions : undefined;
}

function deleteProperty(owner: JsonObject, key: string): void {
  delete owner[key];
  delete owner[`_${key}`];
}

function isJsonObject(value: unknown): value is JsonObject {
  // fhirpath wraps numbers in decimal objects: only plain objects are elements with children.
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

function upperFirst(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
