import {
  capitalize,
  getElementDefinition,
  getTypedPropertyValueWithoutSchema,
  getTypedPropertyValueWithSchema,
  isEmpty,
  isResource,
  type InternalSchemaElement,
  type TypedValue,
} from '@medplum/core';
import type { Scope } from './compile.js';

/**
 * One FHIRPath navigation step (`code` in `Observation.code`), read exactly as @medplum/core's
 * FHIRPath reads it (SymbolAtom, getTypedPropertyValue): the element definition of the value's type
 * names the JSON properties to look in (`valueQuantity`, `valueString`, ... for `value`) and the
 * type of what is found there. Core looks the definition up and builds those property names for
 * every value it reads; here that is done once per value type and element name.
 */

/** Reads one element of a typed value into `into`. */
type Reader = (typed: TypedValue, into: TypedValue[], ownBase: string) => void;

/** A JSON property an element may be in (several for a choice element), and the type of its values. */
interface Candidate {
  key: string;
  extensionKey: string;
  type: string;
}

/**
 * The value as the resource with its own-base references made relative would hold it (see
 * extractIndexRows): an object whose `reference` is `http://base/Type/id` reads as one whose
 * `reference` is `Type/id`. Every object is read through a step, so nested references are made
 * relative when they are reached, and the resource is never copied.
 */
export function localValue(value: unknown, ownBase: string): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const reference = (value as { reference?: unknown }).reference;
  if (typeof reference !== 'string' || !reference.startsWith(ownBase)) return value;
  return { ...value, reference: reference.slice(ownBase.length) };
}

function typedValue(value: unknown, type: string, ownBase: string): TypedValue {
  // Core types an element of type Resource by the resource it holds.
  return { type: type === 'Resource' && isResource(value) ? value.resourceType : type, value: localValue(value, ownBase) };
}

/** Core's result of reading an element, flattened into `into`, without the values it leaves out (undefined ones). */
function pushRead(into: TypedValue[], read: TypedValue[] | TypedValue | undefined, ownBase: string): void {
  for (const typed of Array.isArray(read) ? read : [read]) {
    if (typed?.value !== undefined) into.push({ type: typed.type, value: localValue(typed.value, ownBase) });
  }
}

function candidatesOf(element: InternalSchemaElement): Candidate[] {
  const types = element.type ?? [];
  const segment = element.path.slice(element.path.lastIndexOf('.') + 1);
  return types.map(({ code }) => {
    const key = segment.replace('[x]', capitalize(code));
    // As core does: a value typed by its abstract base takes the element's first type.
    const type = code === 'Element' || code === 'BackboneElement' ? types[0].code : code;
    return { key, extensionKey: `_${key}`, type };
  });
}

/** Pushes an element's JSON value: each item of an array, typed. */
function pushValue(into: TypedValue[], value: unknown, type: string, ownBase: string): void {
  if (Array.isArray(value)) {
    for (const item of value) if (item !== undefined) into.push(typedValue(item, type, ownBase));
  } else into.push(typedValue(value, type, ownBase));
}

function schemaReader(name: string, element: InternalSchemaElement): Reader {
  const candidates = candidatesOf(element);
  return (typed, into, ownBase) => {
    const object = typed.value as Record<string, unknown>;
    for (let i = 0; i < candidates.length; i++) {
      const { key, extensionKey, type } = candidates[i];
      const value = object[key];
      const extension = object[extensionKey];
      if (value === undefined && extension === undefined) continue;
      // A primitive with extensions (`_given`) is read by core itself, which merges the two into a String or Number object.
      if (extension) pushRead(into, getTypedPropertyValueWithSchema(typed, name, element), ownBase);
      else if (!isEmpty(value)) pushValue(into, value, type, ownBase);
      return;
    }
  };
}

function readerFor(type: string, name: string): Reader {
  const element = getElementDefinition(type, name);
  if (element) return schemaReader(name, element);
  // A type core has no definition of (a resolve() stand-in, a guessed BackboneElement): core guesses from the JSON.
  return (typed, into, ownBase) => pushRead(into, getTypedPropertyValueWithoutSchema(typed, name), ownBase);
}

/**
 * The step that reads element `name` of each input value: a resource whose type is `name` is
 * itself (`Observation` in `Observation.code`), anything else is read by the definition of its
 * type. Readers are made on first use per input type, when the definitions are loaded.
 */
export function propertyStep(name: string): (input: TypedValue[], scope: Scope) => TypedValue[] {
  const readers = new Map<string, Reader>();
  // A step nearly always reads values of one type: the last reader is tried before the map.
  let lastType: string | undefined;
  let lastReader: Reader | undefined;
  const readerOf = (type: string): Reader => {
    if (type === lastType && lastReader) return lastReader;
    let reader = readers.get(type);
    if (!reader) {
      reader = readerFor(type, name);
      readers.set(type, reader);
    }
    lastType = type;
    lastReader = reader;
    return reader;
  };
  return (input, { ownBase }) => {
    // The first step of nearly every expression names the resource's own type.
    if (input.length === 1 && (input[0].value as { resourceType?: unknown } | undefined)?.resourceType === name) return input;
    const into: TypedValue[] = [];
    for (const typed of input) {
      const value = typed.value as { resourceType?: unknown } | undefined;
      if (!value || typeof value !== 'object') continue;
      if (value.resourceType === name) into.push(typed);
      else readerOf(typed.type)(typed, into, ownBase);
    }
    return into;
  };
}
