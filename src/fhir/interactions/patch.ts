import type { Parameters, Resource } from '@medplum/fhirtypes';
import { errors, FhirError } from '../../errors.js';
import { findSingleMatch } from '../conditional.js';
import { isValidId } from '../ids.js';
import { applyFhirPathPatch, applyJsonPatch } from '../patch/index.js';
import { writeResponse } from '../response.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../types.js';
import { parseETagVersion } from '../versions.js';
import { write } from '../write.js';

/** The patch document as a function of the current content: JSON Patch, or FHIRPath Patch in a Parameters body. */
function patchFunction(request: FhirRequest): (current: Resource) => Resource {
  if (request.bodyFormat === 'json-patch') {
    const operations = request.body;
    return (current) => applyJsonPatch(current, operations);
  }
  const body = request.body as { resourceType?: string } | undefined;
  if (request.bodyFormat === 'resource' && body?.resourceType === 'Parameters') {
    return (current) => applyFhirPathPatch(current, body as Parameters);
  }
  if (request.body === undefined) throw errors.invalidPatch('the request has no body');
  throw unsupportedPatchFormat(request);
}

/** What was sent instead of a patch, for the 415. */
function describeBody(request: FhirRequest): string {
  if (request.bodyFormat === 'form') return 'application/x-www-form-urlencoded';
  const resourceType = (request.body as { resourceType?: unknown } | null)?.resourceType;
  return typeof resourceType === 'string' ? `a ${resourceType}` : 'not a FHIR resource';
}

function unsupportedPatchFormat(request: FhirRequest): FhirError {
  const message = `PATCH takes application/json-patch+json, or a FHIRPath Patch Parameters resource as application/fhir+json; this body is ${describeBody(request)}`;
  return new FhirError(415, 'unsupported-media-type', 'not-supported', message);
}

/** patch: PATCH [type]/[id] (http.html#patch), applied to the current version under its lock. */
export async function patch(request: FhirRequest, context: InteractionContext, type: string, id: string): Promise<FhirResponse> {
  if (!isValidId(id)) throw errors.invalidId(id);
  const apply = patchFunction(request);
  const ifMatch = request.headers.ifMatch ? parseETagVersion(request.headers.ifMatch) : undefined;
  const result = await write(context, { operation: 'patch', resourceType: type, id, ifMatch, next: (current) => apply(current as Resource) });
  return writeResponse(request, context, result, `Patched ${type}/${id}`);
}

/** Conditional patch: PATCH [type]?criteria; no match is 404, several are 412. */
export async function conditionalPatch(request: FhirRequest, context: InteractionContext, type: string): Promise<FhirResponse> {
  patchFunction(request);
  const criteria = request.query.toString();
  return context.store.inTransaction(context.tx, async (tx) => {
    const inTx = { ...context, tx };
    const match = await findSingleMatch(inTx, type, criteria);
    if (!match) throw errors.notFound(type, `?${criteria}`);
    return patch(request, inTx, type, match.id);
  });
}
