import type { Constraint, FhirPathAtom, TypedValue } from '@medplum/core';
import { UCUM, evalFhirPathTyped, parseFhirPath, toTypedValue } from '@medplum/core';

/**
 * The FHIRPath invariants of the R4 StructureDefinitions that @medplum/core's validator evaluates,
 * each parsed once, when first evaluated. The ones that run on nearly every resource (ext-1 on each
 * extension, dom-2/4/5 on each resource) have a shortcut that decides them from the JSON keys alone,
 * where that is certain.
 */

/** An invariant, parsed on its first evaluation (most of R4's are never met in practice). */
export class Invariant {
  private parsed: FhirPathAtom | null | undefined;

  constructor(
    readonly key: string,
    private readonly source: string,
    /** A shortcut: true when the invariant surely holds for this JSON value, without evaluating it. */
    readonly surelyHolds?: (value: Record<string, unknown>) => boolean,
  ) {}

  /** Null when Medplum could not parse the expression either (it then reports a processing error). */
  get expression(): FhirPathAtom | null {
    if (this.parsed === undefined) this.parsed = parseOrNull(this.source);
    return this.parsed;
  }
}

/** Medplum's own list of invariants it never evaluates (ele-1 is implied by the JSON checks). */
const SKIPPED = new Set(['ele-1', 'dom-3', 'org-1', 'sdf-19']);

const UCUM_VALUE = toTypedValue(UCUM);

const invariantsById = new Map<string, Invariant>();

/** The error-severity invariants Medplum evaluates, of an element or a type. */
export function compileInvariants(constraints: readonly Constraint[] | undefined): readonly Invariant[] {
  if (!constraints) return [];
  const invariants: Invariant[] = [];
  for (const c of constraints) {
    if (c.severity !== 'error' || SKIPPED.has(c.key)) continue;
    const id = `${c.key} ${c.expression}`;
    let invariant = invariantsById.get(id);
    if (!invariant) {
      invariant = new Invariant(c.key, c.expression, shortcut(c));
      invariantsById.set(id, invariant);
    }
    invariants.push(invariant);
  }
  return invariants;
}

function parseOrNull(expression: string): FhirPathAtom | null {
  try {
    return parseFhirPath(expression);
  } catch {
    return null;
  }
}

/**
 * The shortcuts are exact only for JSON the walker otherwise finds clean (no nulls, empty values,
 * unknown properties or conflicting choice types): anything else goes to Medplum's validator anyway.
 */
function shortcut(c: Constraint): ((value: Record<string, unknown>) => boolean) | undefined {
  if (c.key === 'ext-1' && c.expression === 'extension.exists() != value.exists()') return hasExtensionsOrValue;
  if ((c.key === 'dom-2' || c.key === 'dom-4' || c.key === 'dom-5') && c.expression.startsWith('contained.')) return hasNoContained;
  return undefined;
}

function hasExtensionsOrValue(extension: Record<string, unknown>): boolean {
  let hasValue = false;
  for (const key in extension) {
    if (extension[key] !== undefined && (key.startsWith('value') || key.startsWith('_value'))) hasValue = true;
  }
  return (extension.extension !== undefined) !== hasValue;
}

function hasNoContained(resource: Record<string, unknown>): boolean {
  return resource.contained === undefined;
}

/** Where an invariant is evaluated: the element's value and the resources around it (FHIRPath's %resource, %rootResource). */
export interface InvariantContext {
  readonly value: TypedValue;
  readonly resource: Record<string, unknown>;
  readonly root: TypedValue;
}

/** Whether the invariant holds, evaluated the way Medplum's validator does (an evaluation error counts as not holding). */
export function invariantHolds(invariant: Invariant, context: InvariantContext): boolean {
  const { value } = context;
  if (invariant.surelyHolds && typeof value.value === 'object' && invariant.surelyHolds(value.value as Record<string, unknown>)) return true;
  const expression = invariant.expression;
  if (!expression) return false;
  const variables: Record<string, TypedValue> = {
    '%context': value,
    '%ucum': UCUM_VALUE,
    '%resource': toTypedValue(context.resource),
    '%rootResource': context.root,
  };
  try {
    const result = evalFhirPathTyped(expression, [value], variables);
    return result.length === 1 && result[0]?.value === true;
  } catch {
    return false;
  }
}
