import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import { errors } from '../../errors.js';
import { validateResource } from '../validation/index.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../types.js';
import { inputParameters, parameter } from './parameters.js';
import { requirePermission } from '../access-checks.js';

const MODES = ['create', 'update', 'delete'] as const;
type Mode = (typeof MODES)[number];

/** The resource to validate, the mode and the profile: from the body itself and the query, or from a Parameters body. */
function validateInput(request: FhirRequest): { resource?: Resource; mode?: string; profile?: string } {
  const body = request.body as Resource | undefined;
  const queryMode = request.query.get('mode') ?? undefined;
  const queryProfile = request.query.get('profile') ?? undefined;
  if (body?.resourceType !== 'Parameters') return { resource: body, mode: queryMode, profile: queryProfile };
  const params = inputParameters(body);
  const profile = parameter(params, 'profile');
  return {
    resource: parameter(params, 'resource')?.resource,
    mode: parameter(params, 'mode')?.valueCode ?? queryMode,
    profile: profile?.valueUri ?? profile?.valueCanonical ?? queryProfile,
  };
}

/** The profiles the server validates against: the R4 base definition of the type, with or without its version. */
function isBaseProfile(profile: string, type: string): boolean {
  const base = `http://hl7.org/fhir/StructureDefinition/${type}`;
  return profile === base || profile === `${base}|4.0.1`;
}

/** A nominated profile the server cannot validate against is an error, never a silent pass (resource-operation-validate.html). */
function unsupportedProfileIssue(profile: string, type: string): OperationOutcome['issue'][number] {
  return {
    severity: 'error',
    code: 'not-supported',
    diagnostics: `Profile ${profile} was not checked: this server validates against the base R4 definition of ${type} only`,
  };
}

function outcome(issues: OperationOutcome['issue']): OperationOutcome {
  if (issues.length > 0) return { resourceType: 'OperationOutcome', issue: issues };
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: 'Validation successful' }] };
}

/**
 * $validate at type and instance level (resource-operation-validate.html), modes create, update
 * and delete; `profile` may name the base R4 definition of the type, any other is reported as an
 * error. Answers 200 with an OperationOutcome listing every issue; nothing is stored.
 */
export async function validateOperation(request: FhirRequest, context: InteractionContext, type: string, id?: string): Promise<FhirResponse> {
  const { resource, mode: requestedMode, profile } = validateInput(request);
  const mode = (requestedMode ?? 'create') as Mode;
  if (!MODES.includes(mode)) throw errors.badRequest(`Unknown $validate mode "${requestedMode}"; use create, update or delete`);
  requirePermission(context, type, ({ create: 'c', update: 'u', delete: 'd' } as const)[mode]);
  if (mode === 'delete') {
    if (!id) throw errors.badRequest('$validate mode=delete needs an instance: [type]/[id]/$validate');
    const current = await context.store.read(type, id, context.tx);
    if (!current || current.deleted) throw errors.notFound(type, id);
    return { status: 200, body: outcome([]) };
  }
  if (!resource) throw errors.badRequest('$validate needs a resource to validate');
  const issues = validateResource(resource);
  if (profile && !isBaseProfile(profile, type)) issues.push(unsupportedProfileIssue(profile, type));
  if (resource.resourceType !== type) {
    issues.push({ severity: 'error', code: 'invalid', diagnostics: `Resource type ${resource.resourceType} does not match ${type}`, expression: ['resourceType'] });
  }
  if (mode === 'update') {
    if (!resource.id) issues.push({ severity: 'error', code: 'required', diagnostics: 'An update needs the resource id', expression: [`${type}.id`] });
    else if (id && resource.id !== id) issues.push({ severity: 'error', code: 'invalid', diagnostics: `id ${resource.id} does not match ${id}`, expression: [`${type}.id`] });
  }
  return { status: 200, body: outcome(issues) };
}
