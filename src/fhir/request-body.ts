import type { Resource } from '@medplum/fhirtypes';
import { errors } from '../errors.js';
import { isResourceType } from '../definitions/index.js';
import type { FhirRequest } from './types.js';

/** The media types the API parses that do not carry a resource (a form for `_search`, a JSON Patch). */
const NOT_A_RESOURCE: Record<string, string> = { form: 'application/x-www-form-urlencoded', 'json-patch': 'application/json-patch+json' };

/** The request's body as a resource of the URL's type (http.html#create, #update). */
export function requireResourceBody(request: FhirRequest, type: string): Resource {
  const body = request.body;
  if (body === undefined || body === null || body === '') throw errors.badRequest('A resource body is required');
  const mediaType = NOT_A_RESOURCE[request.bodyFormat ?? 'resource'];
  if (mediaType) throw errors.unsupportedMediaType(mediaType);
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw errors.badRequest('The body must be a FHIR resource (a JSON object)');
  }
  const resourceType = (body as { resourceType?: unknown }).resourceType;
  if (typeof resourceType !== 'string' || !isResourceType(resourceType)) {
    throw errors.invalidResource([
      { severity: 'error', code: 'structure', details: { text: `Unknown resourceType "${String(resourceType)}"` }, expression: ['resourceType'] },
    ]);
  }
  if (resourceType !== type) throw errors.typeMismatch(type, resourceType);
  return body as Resource;
}
