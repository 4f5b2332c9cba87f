import type { Coding, ElementDefinition, Meta, Resource } from '@medplum/fhirtypes';
import { isResourceType, structureDefinition } from '../definitions/index.js';
import { errors } from '../errors.js';

/**
 * `_summary` and `_elements` (FHIR R4 search.html#summary, #elements) as pure functions over
 * resources. The element flags come from the R4 StructureDefinitions, read once per type and cached.
 */

export type SummaryMode = 'true' | 'text' | 'data' | 'count' | 'false';

const SUMMARY_MODES: readonly SummaryMode[] = ['true', 'text', 'data', 'count', 'false'];

/** The tag that marks a resource as incomplete, so that it is not used to overwrite the full one. */
export const SUBSETTED_TAG: Readonly<Coding> = Object.freeze({
  system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue',
  code: 'SUBSETTED',
});

/** Elements every subset keeps, whatever was asked for. */
const ALWAYS_KEPT = new Set(['resourceType', 'id', 'meta']);

export function parseSummary(value: string | undefined): SummaryMode | undefined {
  if (value === undefined) return undefined;
  if ((SUMMARY_MODES as readonly string[]).includes(value)) return value as SummaryMode;
  throw errors.badRequest(`Invalid value "${value}" for parameter "_summary": expected one of ${SUMMARY_MODES.join(', ')}`);
}

/** `name`, `value[x]`, `valueQuantity`, or the same prefixed by a resource type: `Patient.name`. */
const ELEMENT_NAME = /^(?:([A-Z][A-Za-z]*)\.)?([a-z][A-Za-z0-9]*(?:\[x\])?)$/;

/**
 * Parses `_elements` into the list of names as written (trimmed, de-duplicated, empty items skipped).
 * Only top-level elements can be named (R4); a `Type.` prefix restricts a name to that resource type,
 * which matters for searches that return several types (`_include`).
 */
export function parseElements(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const names: string[] = [];
  for (const raw of value.split(',')) {
    const name = raw.trim();
    if (name === '') continue;
    const match = ELEMENT_NAME.exec(name);
    if (!match) {
      throw errors.badRequest(
        `Invalid element name "${name}" in parameter "_elements": expected a top-level element name such as "name" or "Patient.name"`,
      );
    }
    if (match[1] !== undefined && !isResourceType(match[1])) {
      throw errors.badRequest(`Invalid element name "${name}" in parameter "_elements": unknown resource type "${match[1]}"`);
    }
    if (!names.includes(name)) names.push(name);
  }
  if (names.length === 0) throw errors.badRequest('Parameter "_elements" must name at least one element');
  return names;
}

/**
 * Returns a subset of the resource as `_summary` asks; never mutates the input.
 * - `true`: the elements marked isSummary (or isModifier, see below) in the base definition; inside
 *   backbone elements only their summary children; data types whole except `Attachment.data`.
 * - `text`: `text`, `id`, `meta` and the mandatory (min >= 1) top-level elements.
 * - `data`: everything but `text`.
 * - `false`, `count`: a copy of the whole resource (`count` concerns the search Bundle, not resources).
 * The subsets (`true`, `text`, `data`) are tagged SUBSETTED.
 */
export function summarize(resource: Resource, mode: SummaryMode): Resource {
  switch (mode) {
    case 'false':
    case 'count':
      return structuredClone(resource);
    case 'data': {
      const { text: _text, ...rest } = resource as Resource & { text?: unknown };
      return withSubsettedTag(structuredClone(rest) as Resource);
    }
    case 'text': {
      const def = resourceDefinition(resource.resourceType);
      return subset(resource, def, (key, el) => key === 'text' || (el?.mandatory ?? false), false);
    }
    case 'true': {
      const def = resourceDefinition(resource.resourceType);
      return subset(resource, def, (_key, el) => el?.summary ?? false, true);
    }
  }
}

/**
 * Keeps only the named top-level elements (see parseElements) plus `resourceType`, `id`, `meta` and the
 * mandatory top-level elements, tagged SUBSETTED. A choice element is named by its base (`value` or
 * `value[x]`, selecting whichever `value*` is present) or by its JSON key (`valueQuantity`).
 * Names of elements the type does not have are ignored.
 */
export function selectElements(resource: Resource, elements: string[]): Resource {
  const def = resourceDefinition(resource.resourceType);
  const wanted = new Set<string>();
  for (const name of elements) {
    const dot = name.indexOf('.');
    if (dot >= 0 && name.slice(0, dot) !== resource.resourceType) continue;
    const element = dot >= 0 ? name.slice(dot + 1) : name;
    wanted.add(element.endsWith('[x]') ? element.slice(0, -3) : element);
  }
  return subset(resource, def, (key, el) => wanted.has(key) || (el !== undefined && (wanted.has(el.name) || el.mandatory)), false);
}

// ---------------------------------------------------------------------------------------------
// Definitions, precomputed per StructureDefinition

interface ElementInfo {
  /** The element name without `[x]`. */
  readonly name: string;
  /** isSummary, or isModifier: "if an element is at the root ... or is a modifier, it must be marked
   *  as isSummary=true" (ElementDefinition.isSummary). R4 leaves the root `modifierExtension` unmarked. */
  readonly summary: boolean;
  readonly mandatory: boolean;
  /** For backbone elements: the path whose children define its content (follows contentReference). */
  readonly childPath: string | undefined;
}

/** What a JSON key means: the element, and the type of the value (for a choice, the chosen one). */
interface KeyInfo {
  readonly element: ElementInfo;
  readonly type: string | undefined;
}

interface Definition {
  readonly root: string;
  /** Parent path -> JSON key -> element. Choice elements `foo[x]` are listed under each `fooType` key. */
  readonly children: ReadonlyMap<string, ReadonlyMap<string, KeyInfo>>;
}

const definitions = new Map<string, Definition | null>();

function definition(type: string): Definition | undefined {
  let def = definitions.get(type);
  if (def === undefined) {
    const sd = structureDefinition(type);
    const elements = sd?.snapshot?.element;
    def = elements && elements.length > 0 ? buildDefinition(elements) : null;
    definitions.set(type, def);
  }
  return def ?? undefined;
}

function resourceDefinition(type: string): Definition {
  const def = isResourceType(type) ? definition(type) : undefined;
  if (!def) throw errors.unknownType(type);
  return def;
}

function buildDefinition(elements: ElementDefinition[]): Definition {
  const root = elements[0].path ?? '';
  const parents = new Set<string>();
  for (const el of elements) {
    const path = el.path ?? '';
    const dot = path.lastIndexOf('.');
    if (dot > 0) parents.add(path.slice(0, dot));
  }
  const children = new Map<string, Map<string, KeyInfo>>();
  for (const el of elements) {
    const path = el.path ?? '';
    const dot = path.lastIndexOf('.');
    if (dot <= 0 || el.sliceName) continue;
    const parent = path.slice(0, dot);
    const segment = path.slice(dot + 1);
    const choice = segment.endsWith('[x]');
    const name = choice ? segment.slice(0, -3) : segment;
    const info: ElementInfo = {
      name,
      summary: el.isSummary === true || el.isModifier === true,
      mandatory: (el.min ?? 0) >= 1,
      childPath: el.contentReference ? el.contentReference.slice(el.contentReference.indexOf('#') + 1) : parents.has(path) ? path : undefined,
    };
    let keys = children.get(parent);
    if (!keys) children.set(parent, (keys = new Map()));
    const types = (el.type ?? []).map((t) => t.code ?? '');
    if (choice) {
      for (const type of types) keys.set(name + type.charAt(0).toUpperCase() + type.slice(1), { element: info, type });
    } else {
      keys.set(name, { element: info, type: types[0] });
    }
  }
  return { root, children };
}

/** The element a JSON key (or its primitive-extension companion `_key`) stands for. */
function lookup(keys: ReadonlyMap<string, KeyInfo> | undefined, key: string): KeyInfo | undefined {
  return keys?.get(key.startsWith('_') ? key.slice(1) : key);
}

// ---------------------------------------------------------------------------------------------
// Subsetting

type Json = Record<string, unknown>;

/**
 * Copies the top-level elements `keep` accepts (plus resourceType, id, meta) into a new, tagged
 * resource. With `summaryContent`, kept values are reduced to their summary content as well.
 */
function subset(
  resource: Resource,
  def: Definition,
  keep: (key: string, element: ElementInfo | undefined) => boolean,
  summaryContent: boolean,
): Resource {
  const keys = def.children.get(def.root);
  const out: Json = {};
  for (const [key, value] of Object.entries(resource as unknown as Json)) {
    const base = key.startsWith('_') ? key.slice(1) : key;
    const info = lookup(keys, key);
    if (!ALWAYS_KEPT.has(base) && !keep(base, info?.element)) continue;
    out[key] =
      summaryContent && info && !key.startsWith('_') && !ALWAYS_KEPT.has(base)
        ? summaryValue(value, def, info, false)
        : structuredClone(value);
  }
  return withSubsettedTag(out as unknown as Resource);
}

/**
 * The summary form of a value: backbone elements of the resource keep only their summary children;
 * data types (and backbone elements inside them) keep everything except `Attachment.data`.
 */
function summaryValue(value: unknown, def: Definition, info: KeyInfo, inDataType: boolean): unknown {
  if (Array.isArray(value)) return value.map((v) => summaryValue(v, def, info, inDataType));
  if (value === null || typeof value !== 'object') return value;
  if (info.element.childPath !== undefined) {
    return summaryObject(value as Json, def, info.element.childPath, inDataType, false);
  }
  const type = info.type;
  if (type === undefined || type === 'Resource' || type.charAt(0) === type.charAt(0).toLowerCase()) return structuredClone(value);
  const typeDef = definition(type);
  if (!typeDef) return structuredClone(value);
  return summaryObject(value as Json, typeDef, typeDef.root, true, type === 'Attachment');
}

function summaryObject(value: Json, def: Definition, path: string, inDataType: boolean, attachment: boolean): Json {
  const keys = def.children.get(path);
  const out: Json = {};
  for (const [key, child] of Object.entries(value)) {
    if (attachment && (key === 'data' || key === '_data')) continue;
    const info = lookup(keys, key);
    if (!inDataType && !info?.element.summary) continue;
    out[key] = info && !key.startsWith('_') ? summaryValue(child, def, info, inDataType) : structuredClone(child);
  }
  return out;
}

/** Adds SUBSETTED to meta.tag (once); `resource` is already a copy, its meta is replaced, not mutated. */
function withSubsettedTag(resource: Resource): Resource {
  const meta: Meta = { ...(resource.meta ?? {}) };
  const tags = meta.tag ?? [];
  const tagged = tags.some((t) => t.system === SUBSETTED_TAG.system && t.code === SUBSETTED_TAG.code);
  meta.tag = tagged ? tags : [...tags, { ...SUBSETTED_TAG }];
  return { ...resource, meta } as Resource;
}
