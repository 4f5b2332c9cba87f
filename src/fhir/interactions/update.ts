import { errors } from '../../errors.js';
import { isValidId } from '../ids.js';
import { findSingleMatch } from '../conditional.js';
import { requireResourceBody } from '../request-body.js';
import { writeResponse } from '../response.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../types.js';
import { parseETagVersion } from '../versions.js';
import { createResource } from './create.js';
import { write } from '../write.js';

/**
 * update: PUT [type]/[id]. The body's id must equal the URL's; a new id creates the resource
 * (update as create, 201). `If-Match` makes it a version-aware update (412 on mismatch).
 */
export async function update(
  request: FhirRequest,
  context: InteractionContext,
  type: string,
  id: string,
  options: { onlyCreate?: boolean } = {},
): Promise<FhirResponse> {
  if (!isValidId(id)) throw errors.invalidId(id);
  const body = requireResourceBody(request, type);
  if (body.id !== id) throw errors.idMismatch(id, body.id);
  const ifMatch = request.headers.ifMatch ? parseETagVersion(request.headers.ifMatch) : undefined;
  const next = (previous: unknown) => {
    // Decided under the resource's lock, so a concurrent create of the same id cannot slip in between.
    if (previous && options.onlyCreate) throw errors.conflict(`${type}/${id} exists but does not match the criteria; it is not replaced`);
    return body;
  };
  const result = await write(context, { operation: 'update', resourceType: type, id, ifMatch, next });
  return writeResponse(request, context, result, result.outcome === 'created' ? `Created ${type}/${id}` : `Updated ${type}/${id}`);
}

/**
 * Conditional update: PUT [type]?criteria (http.html#cond-update). No match: create (with the body's
 * id if it has one; 409 if that id is an existing resource the criteria did not select, as R5 makes
 * explicit: a conditional update must never overwrite what it did not match); one match: update it
 * (a body id must be that one's); several: 412.
 */
export async function conditionalUpdate(request: FhirRequest, context: InteractionContext, type: string): Promise<FhirResponse> {
  const body = requireResourceBody(request, type);
  const criteria = request.query.toString();
  return context.store.inTransaction(context.tx, async (tx) => {
    const inTx = { ...context, tx };
    const match = await findSingleMatch(inTx, type, criteria);
    if (!match) {
      if (body.id) return update({ ...request, body }, inTx, type, body.id, { onlyCreate: true });
      return writeResponse(request, inTx, await createResource(inTx, body), `Created ${type}`);
    }
    if (body.id && body.id !== match.id) throw errors.idMismatch(match.id, body.id);
    return update({ ...request, body: { ...body, id: match.id } }, inTx, type, match.id);
  });
}
