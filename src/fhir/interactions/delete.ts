import { errors } from '../../errors.js';
import type { WriteResult } from '../../store/index.js';
import { findConditionalMatches } from '../conditional.js';
import { isValidId } from '../ids.js';
import { informational, returnPreference, versionFields } from '../response.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../types.js';
import { parseETagVersion } from '../versions.js';
import { write } from '../write.js';

/**
 * The spec lets a server answer a delete, and a delete of something that does not exist, with 200
 * and a body or 204 without one (http.html#delete). We answer 200 with an OperationOutcome saying
 * what happened, or 204 when the client prefers `return=minimal`.
 */
function deleteResponse(request: FhirRequest, results: WriteResult[], message: string): FhirResponse {
  const deleted = results.filter((r) => r.outcome === 'deleted');
  const version = deleted.length === 1 ? versionFields(deleted[0]) : {};
  if (returnPreference(request.headers.prefer) === 'minimal') return { status: 204, ...version };
  return { status: 200, ...version, body: informational(message) };
}

/** What a delete did: a deletion, or none because there was nothing (a version number of 0) or it was already deleted. */
function deleteMessage(type: string, id: string, result: WriteResult): string {
  if (result.outcome === 'deleted') return `Deleted ${type}/${id}`;
  if (result.versionId > 0) return `${type}/${id} was already deleted; nothing changed`;
  return `${type}/${id} does not exist; nothing was deleted`;
}

/** delete: DELETE [type]/[id]. Logical: the history stays, later reads are 410. */
export async function deleteInteraction(request: FhirRequest, context: InteractionContext, type: string, id: string): Promise<FhirResponse> {
  if (!isValidId(id)) throw errors.invalidId(id);
  const ifMatch = request.headers.ifMatch ? parseETagVersion(request.headers.ifMatch) : undefined;
  const result = await write(context, { operation: 'delete', resourceType: type, id, ifMatch });
  return deleteResponse(request, [result], deleteMessage(type, id, result));
}

/** Conditional delete: DELETE [type]?criteria; one match is deleted, none is a success, several are 412. */
export async function conditionalDelete(request: FhirRequest, context: InteractionContext, type: string): Promise<FhirResponse> {
  const criteria = request.query.toString();
  return context.store.inTransaction(context.tx, async (tx) => {
    const matches = await findConditionalMatches({ ...context, tx }, type, criteria);
    if (matches.length > 1) throw errors.multipleMatches(`${type}?${criteria}`);
    const results = await Promise.all(
      matches.map((match) => write({ ...context, tx }, { operation: 'delete', resourceType: type, id: match.id })),
    );
    const message = results.length ? `Deleted ${type}/${matches[0].id}` : `Nothing matches ${type}?${criteria}; nothing was deleted`;
    return deleteResponse(request, results, message);
  });
}
