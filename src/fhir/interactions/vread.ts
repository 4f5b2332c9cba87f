import { errors } from '../../errors.js';
import { isUnconfinedFor, readableCurrent } from '../access-checks.js';
import { storedResponse } from '../response.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../types.js';
import { parseVersionId } from '../versions.js';

/** vread: GET [type]/[id]/_history/[vid] (http.html#vread); a version that is a deletion is 410. */
export async function vread(request: FhirRequest, context: InteractionContext, type: string, id: string, vid: string): Promise<FhirResponse> {
  const versionId = parseVersionId(vid, type, id);
  // A confined token sees a resource's versions only while its current version is within reach; an
  // unconfined one needs no read of the current version (half of what a vread cost).
  if (!isUnconfinedFor(context, type, 'r')) await readableCurrent(context, type, id);
  const version = await context.store.vread(type, id, versionId, context.tx);
  if (!version) throw errors.versionNotFound(type, id, vid);
  if (version.deleted) throw errors.gone(type, id, versionId);
  return storedResponse(request, version);
}
