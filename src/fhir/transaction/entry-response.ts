import { STATUS_CODES } from 'node:http';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { asFhirError, FhirError } from '../../errors.js';
import { entryJson } from '../bundle.js';
import type { FhirResponse } from '../types.js';

function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? ''}`.trim();
}

/** The Bundle entry that reports one entry's outcome (bundle.html#transaction-response). */
export function responseEntryJson(response: FhirResponse): string {
  const headers = response.headers ?? {};
  // An OperationOutcome answer (an error, a delete's report, Prefer: return=OperationOutcome) is the entry's outcome, not its resource.
  const outcome = response.body?.resourceType === 'OperationOutcome' ? (response.body as OperationOutcome) : undefined;
  return entryJson({
    fullUrl: headers.location?.replace(/\/_history\/\d+$/, ''),
    resourceJson: outcome ? undefined : response.json,
    resource: outcome ? undefined : response.body,
    response: { status: statusLine(response.status), location: headers.location, etag: headers.etag, lastModified: response.lastModified, outcome },
  });
}

/** A failed batch entry: its own status and OperationOutcome; the other entries go on. */
export function errorResponse(error: unknown): FhirResponse {
  const fhirError = asFhirError(error);
  return { status: fhirError.status, body: fhirError.toOperationOutcome() };
}

/** A transaction fails as a whole; its error names the entry that failed. */
export function entryFailure(error: unknown, index: number, method: string, url: string): unknown {
  if (!(error instanceof FhirError)) return error;
  const where = `Bundle.entry[${index}] (${method} ${url})`;
  const issues = error.toOperationOutcome().issue.map((issue) => ({
    ...issue,
    diagnostics: `${where}: ${issue.diagnostics ?? issue.details?.text ?? ''}`,
  }));
  return new FhirError(error.status, error.code, error.issueType, `${where}: ${error.message}`, issues, error.headers);
}
