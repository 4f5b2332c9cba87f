import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { isResourceType, loadDefinitions, resourceTypes } from '../../definitions/index.js';
import { errors, issueAt } from '../../errors.js';
import { compileAllSchemas } from './element-index.js';
import type { WalkResult } from './resource-walker.js';
import { walkResource } from './resource-walker.js';
import { isMeaningfulReferenceWarning, structuralIssues } from './structure.js';

/**
 * Validation of a resource against the R4 StructureDefinitions, before it is stored:
 * 1. a JSON object with a known R4 `resourceType`;
 * 2. `id` syntax, of the resource and of every contained/nested resource;
 * 3. structure (cardinality, required elements, JSON types, primitive formats, unknown properties,
 *    invariants) by @medplum/core's rules, contained and nested resources included: predicted by our
 *    own walker, and worded by @medplum/core's validator where the walker finds a problem;
 * 4. `Reference.reference` syntax everywhere, and that `#id` matches a contained resource;
 * 5. required bindings of `code` elements to the R4 value sets that can be expanded simply.
 * Every issue has severity, code, details.text and a FHIRPath `expression`.
 */
export function validateResource(input: unknown): OperationOutcomeIssue[] {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return [issueAt('resourceType', `A resource must be a JSON object, got ${describe(input)}`, 'structure')];
  }
  const resource = input as Record<string, unknown>;
  const resourceType = resource.resourceType;
  if (resourceType === undefined) return [issueAt('resourceType', 'Missing resourceType', 'required')];
  if (typeof resourceType !== 'string') {
    return [issueAt('resourceType', `resourceType must be a string, got ${describe(resourceType)}`, 'structure')];
  }
  loadDefinitions();
  if (!isResourceType(resourceType)) {
    return [issueAt('resourceType', `Unknown resource type "${resourceType}"`, 'value')];
  }

  const walked = walkResource(resource, resourceType);
  const structural = structureOf(walked, resource, resourceType);

  const issues: OperationOutcomeIssue[] = [];
  const reported = new Set<string>();
  const shapePaths = walked.shapeIssues.map((i) => `${i.expression?.[0]}.`);
  for (const issue of structural.issues) {
    if (!isMeaningfulReferenceWarning(issue, walked.badReferences)) continue;
    const expression = issue.expression?.[0] ?? '';
    // Below a value of the wrong JSON shape, Medplum's findings are noise ("Invalid additional property "0"").
    if (shapePaths.length > 0 && shapePaths.some((p) => expression.startsWith(p))) continue;
    issues.push(issue);
    if (issue.severity === 'error') reported.add(expression);
  }
  // The JSON-shape findings of the walker, where Medplum did not already report the same element.
  for (const issue of walked.shapeIssues) {
    if (!reported.has(issue.expression?.[0] ?? '')) issues.push(issue);
  }
  issues.push(...walked.issues);
  if (structural.crash && issues.length === 0) issues.push(structural.crash);
  return issues;
}

/**
 * Medplum's structural findings: predicted by the walker when it could (the common case, and much
 * cheaper), else from Medplum's validator itself.
 */
function structureOf(walked: WalkResult, resource: Record<string, unknown>, resourceType: string): ReturnType<typeof structuralIssues> {
  // Medplum cannot place an unknown nested resource type (it stops with an issue without a path):
  // then the walker's issues, which name it, are what there is to say.
  if (walked.unknownNestedType) return { issues: [] };
  if (walked.structure) return { issues: walked.structure };
  return structuralIssues(resource, resourceType);
}

/** The resource, typed, when it has no error; else a 400 `invalid-resource` FhirError with the errors. */
export function assertValidResource(input: unknown): Resource {
  const problems = validateResource(input).filter((i) => i.severity === 'error' || i.severity === 'fatal');
  if (problems.length > 0) throw errors.invalidResource(problems);
  return input as Resource;
}

/**
 * Optional start-up warm-up: loads the definitions, expands the required value sets and compiles the
 * element tables of every resource type, so that no request pays for it. Everything is otherwise
 * built lazily, once, on first use.
 */
export function warmUpValidation(): void {
  loadDefinitions();
  compileAllSchemas(resourceTypes());
  validateResource({ resourceType: 'Patient', id: 'warm-up', name: [{ family: 'Warm' }], gender: 'unknown' });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
