import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { StoredVersion, WriteResult } from '../store/index.js';
import { parseElements, parseSummary, selectElements, summarize } from './summary.js';
import type { FhirRequest, FhirResponse, InteractionContext } from './types.js';
import { etag } from './versions.js';

export function informational(text: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: text }] };
}

export function versionedUrl(baseUrl: string, resourceType: string, id: string, versionId: number): string {
  return `${baseUrl}/${resourceType}/${id}/_history/${versionId}`;
}

function httpDate(value: Date | string): string {
  return new Date(value).toUTCString();
}

/** ETag and Last-Modified of a version, and its exact instant for Bundle entries. */
export function versionFields(version: { versionId: number; lastUpdated: Date | string }): Required<Pick<FhirResponse, 'headers' | 'lastModified'>> {
  return {
    headers: { etag: etag(version.versionId), 'last-modified': httpDate(version.lastUpdated) },
    lastModified: new Date(version.lastUpdated).toISOString(),
  };
}

type ReturnPreference = 'minimal' | 'representation' | 'OperationOutcome';

/** `Prefer: return=...` (RFC 7240 as FHIR uses it); representation is the default. */
export function returnPreference(prefer: string | undefined): ReturnPreference {
  const match = /(?:^|[;,\s])return\s*=\s*"?(minimal|representation|OperationOutcome)"?/i.exec(prefer ?? '');
  if (!match) return 'representation';
  const value = match[1].toLowerCase();
  return value === 'minimal' ? 'minimal' : value === 'operationoutcome' ? 'OperationOutcome' : 'representation';
}

/** Applies `_summary` / `_elements` to a resource read from storage; returns stored text untouched otherwise. */
export function renderResource(query: URLSearchParams, stored: { json?: string; resource?: Resource }): Pick<FhirResponse, 'body' | 'json'> {
  const summary = parseSummary(query.get('_summary') ?? undefined);
  const elements = parseElements(query.get('_elements') ?? undefined);
  if ((!summary || summary === 'false') && !elements) return stored.json !== undefined ? { json: stored.json } : { body: stored.resource };
  let resource = stored.resource ?? (JSON.parse(stored.json as string) as Resource);
  if (summary && summary !== 'false') resource = summarize(resource, summary);
  if (elements) resource = selectElements(resource, elements);
  return { body: resource };
}

export function storedResponse(request: FhirRequest, version: StoredVersion, status = 200): FhirResponse {
  return { status, ...versionFields(version), ...renderResource(request.query, { json: version.json }) };
}

type Written = { resourceType: string; id: string; versionId: number; lastUpdated: Date | string };

/** Version headers, Location, and the body `Prefer` asks for: the resource, none, or an OperationOutcome. */
function preferredResponse(
  request: FhirRequest,
  context: InteractionContext,
  status: number,
  version: Written,
  representation: Pick<FhirResponse, 'body' | 'json'>,
  message: string,
): FhirResponse {
  const { headers, lastModified } = versionFields(version);
  const location = versionedUrl(context.baseUrl, version.resourceType, version.id, version.versionId);
  const answer = { status, lastModified, headers: { ...headers, location } };
  const preference = returnPreference(request.headers.prefer);
  if (preference === 'minimal') return answer;
  if (preference === 'OperationOutcome') return { ...answer, body: informational(message) };
  return { ...answer, ...representation };
}

/** The answer to a create, update or patch. */
export function writeResponse(request: FhirRequest, context: InteractionContext, result: WriteResult, message: string): FhirResponse {
  const status = result.outcome === 'created' ? 201 : 200;
  return preferredResponse(request, context, status, result, { body: result.resource }, message);
}

/** The answer to a conditional create that found its match: 200, and `Prefer` is honoured as for any write. */
export function existingResponse(request: FhirRequest, context: InteractionContext, version: StoredVersion): FhirResponse {
  const message = `${version.resourceType}/${version.id} matches the criteria; nothing was created`;
  return preferredResponse(request, context, 200, version, { json: version.json }, message);
}
