import type { Resource } from '@medplum/fhirtypes';
import { newResourceId, type WriteResult } from '../../store/index.js';
import { findSingleMatch, ifNoneExistCriteria } from '../conditional.js';
import { requireResourceBody } from '../request-body.js';
import { existingResponse, writeResponse } from '../response.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../types.js';
import { write } from '../write.js';

/** Stores a new resource under a server-assigned id; any id in the body is ignored (http.html#create). */
export function createResource(context: InteractionContext, body: Resource, id: string = newResourceId()): Promise<WriteResult> {
  return write(context, { operation: 'create', resourceType: body.resourceType, id, freshId: true, next: () => ({ ...body, id }) });
}

/**
 * create: POST [type]. With `If-None-Exist` it is a conditional create: no match creates, one match
 * answers 200 with the existing resource and creates nothing, several are 412.
 */
export async function create(request: FhirRequest, context: InteractionContext, type: string): Promise<FhirResponse> {
  const body = requireResourceBody(request, type);
  const criteria = request.headers.ifNoneExist;
  if (!criteria) return writeResponse(request, context, await createResource(context, body), `Created ${type}`);
  return context.store.inTransaction(context.tx, async (tx) => {
    const inTx = { ...context, tx };
    const existing = await findSingleMatch(inTx, type, ifNoneExistCriteria(criteria, type));
    if (existing) return existingResponse(request, inTx, existing);
    return writeResponse(request, inTx, await createResource(inTx, body), `Created ${type}`);
  });
}
