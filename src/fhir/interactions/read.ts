import { errors } from '../../errors.js';
import { storedResponse, versionFields } from '../response.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../types.js';
import { parseETagVersion } from '../versions.js';
import { readableCurrent } from '../access-checks.js';

/** `If-None-Match` names the version the client has; `If-Modified-Since` the time of its copy (HTTP dates have whole seconds). */
function clientCopyIsCurrent(request: FhirRequest, versionId: number, lastUpdated: Date): boolean {
  const { ifNoneMatch, ifModifiedSince } = request.headers;
  if (ifNoneMatch) {
    return ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((tag) => parseETagVersion(tag, 'If-None-Match') === versionId);
  }
  if (ifModifiedSince) {
    const since = Date.parse(ifModifiedSince);
    if (Number.isNaN(since)) throw errors.badRequest(`Invalid If-Modified-Since header "${ifModifiedSince}"`);
    return Math.floor(lastUpdated.getTime() / 1000) * 1000 <= since;
  }
  return false;
}

/** read: GET [type]/[id] (http.html#read), with conditional read (304). */
export async function read(request: FhirRequest, context: InteractionContext, type: string, id: string): Promise<FhirResponse> {
  const current = await readableCurrent(context, type, id);
  if (current.deleted) throw errors.gone(type, id, current.versionId);
  if (clientCopyIsCurrent(request, current.versionId, current.lastUpdated)) {
    return { status: 304, ...versionFields(current) };
  }
  return storedResponse(request, current);
}
