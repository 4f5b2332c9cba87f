import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { refusedTextOf } from './store/database.js';

/** FHIR issue types we use (http://hl7.org/fhir/ValueSet/issue-type). */
export type IssueType = OperationOutcomeIssue['code'];

/**
 * The one error type of the server: every failure that reaches a client is a FhirError, which knows
 * its HTTP status, its FHIR issue type and a stable code (for logs, tests and client logic).
 * Layers below HTTP (store, search) throw these too; the HTTP layer only renders them.
 */
export class FhirError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly issueType: IssueType,
    message: string,
    readonly issues: OperationOutcomeIssue[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'FhirError';
  }

  toOperationOutcome(): OperationOutcome {
    const issue: OperationOutcomeIssue[] =
      this.issues.length > 0
        ? this.issues
        : [
            {
              severity: this.status >= 500 ? 'fatal' : 'error',
              code: this.issueType,
              details: { coding: [{ system: ERROR_CODE_SYSTEM, code: this.code }], text: this.message },
              diagnostics: this.message,
            },
          ];
    return { resourceType: 'OperationOutcome', issue };
  }
}

export const ERROR_CODE_SYSTEM = 'urn:fhir-server:error-code';

/** An issue pointing at an element of the resource (FHIRPath `expression`). */
export function issueAt(expression: string, text: string, code: IssueType = 'invalid'): OperationOutcomeIssue {
  return { severity: 'error', code, details: { text }, diagnostics: text, expression: [expression] };
}

/** The catalogue: every error the server raises, once, with its status and issue type. */
export const errors = {
  badRequest: (message: string) => new FhirError(400, 'bad-request', 'invalid', message),
  invalidJson: (message: string) => new FhirError(400, 'invalid-json', 'structure', `Malformed JSON: ${message}`),
  invalidResource: (issues: OperationOutcomeIssue[]) =>
    new FhirError(400, 'invalid-resource', 'invalid', issues.map((i) => i.details?.text ?? i.diagnostics).join('; '), issues),
  invalidId: (id: string) => new FhirError(400, 'invalid-id', 'value', `Invalid resource id "${id}": ids are 1-64 of [A-Za-z0-9-.]`),
  typeMismatch: (expected: string, actual: string | undefined) =>
    new FhirError(400, 'resource-type-mismatch', 'invalid', `Resource type "${actual}" does not match the URL's "${expected}"`, [
      issueAt('resourceType', `Resource type "${actual}" does not match the URL's "${expected}"`),
    ]),
  idMismatch: (urlId: string, bodyId: string | undefined) =>
    new FhirError(400, 'id-mismatch', 'invalid', `Resource id "${bodyId ?? '(none)'}" does not match the URL's "${urlId}"`, [
      issueAt('id', `Resource id "${bodyId ?? '(none)'}" does not match the URL's "${urlId}"`),
    ]),
  unsupportedParameter: (operation: string, param: string, instead: string) =>
    new FhirError(400, 'unsupported-parameter', 'not-supported', `$${operation} does not take "${param}"; ${instead}`),
  cannotExpand: (url: string) =>
    new FhirError(422, 'cannot-expand', 'not-supported', `ValueSet ${url} cannot be expanded here: it uses filters, or a code system the server does not hold completely`),
  unknownValueSet: (url: string) => new FhirError(404, 'unknown-value-set', 'not-found', `ValueSet ${url} is not known to this server`),
  unknownCodeSystem: (url: string) => new FhirError(404, 'unknown-code-system', 'not-found', `CodeSystem ${url} is not known to this server`),
  unknownCode: (system: string, code: string) => new FhirError(404, 'unknown-code', 'not-found', `${code} is not a code of CodeSystem ${system}`),
  requestTimeout: () => new FhirError(408, 'request-timeout', 'timeout', 'The request did not arrive in time'),
  headersTooLarge: () => new FhirError(431, 'headers-too-large', 'too-costly', 'The request headers exceed the size the server accepts'),
  unsupportedCriteria: (param: string) =>
    new FhirError(400, 'unsupported-criteria', 'not-supported', `Search parameter "${param}" is not supported in conditional matching`),
  invalidSearchValue: (param: string, value: string, why: string) =>
    new FhirError(400, 'invalid-search-value', 'invalid', `Invalid value "${value}" for parameter "${param}": ${why}`),
  invalidPatch: (message: string, expression?: string) =>
    new FhirError(400, 'invalid-patch', 'invalid', `Invalid patch: ${message}`, expression ? [issueAt(expression, `Invalid patch: ${message}`)] : []),
  unauthorized: (message = 'Authentication required') => new FhirError(401, 'unauthorized', 'login', message),
  forbidden: (message = 'Forbidden') => new FhirError(403, 'forbidden', 'forbidden', message),
  /** The token is valid but its scopes do not reach this: 403 with the RFC 6750 §3 challenge. */
  insufficientScope: (message: string) =>
    new FhirError(403, 'insufficient-scope', 'forbidden', message, [], {
      'www-authenticate': `Bearer realm="fhir", error="insufficient_scope", error_description="${message.replace(/"/g, "'")}"`,
    }),
  unknownType: (type: string) => new FhirError(404, 'unknown-type', 'not-supported', `Unknown resource type "${type}"`),
  notFound: (type: string, id: string) => new FhirError(404, 'not-found', 'not-found', `${type}/${id} not found`),
  versionNotFound: (type: string, id: string, version: string) =>
    new FhirError(404, 'version-not-found', 'not-found', `${type}/${id}/_history/${version} not found`),
  unknownRoute: (method: string, url: string) => new FhirError(404, 'unknown-route', 'not-found', `No FHIR interaction at ${method} ${url}`),
  unknownOperation: (name: string) => new FhirError(404, 'unknown-operation', 'not-supported', `Operation $${name} is not supported here`),
  methodNotAllowed: (method: string, url: string, allow: string[]) =>
    new FhirError(405, 'method-not-allowed', 'not-supported', `${method} is not allowed on ${url}`, [], { allow: allow.join(', ') }),
  notAcceptable: (format: string) => new FhirError(406, 'not-acceptable', 'not-supported', `Format "${format}" is not served; use application/fhir+json`),
  conflict: (message: string) => new FhirError(409, 'conflict', 'conflict', message),
  gone: (type: string, id: string, versionId: number) =>
    new FhirError(410, 'gone', 'deleted', `${type}/${id} was deleted`, [], { etag: `W/"${versionId}"` }),
  versionConflict: (expected: string, actual: number) =>
    new FhirError(412, 'version-conflict', 'conflict', `If-Match ${expected} does not match the current version W/"${actual}"`),
  multipleMatches: (criteria: string) =>
    new FhirError(412, 'multiple-matches', 'multiple-matches', `More than one resource matches "${criteria}"`),
  unresolvedReference: (reference: string, matches: number) =>
    new FhirError(
      412,
      'unresolved-reference',
      matches === 0 ? 'not-found' : 'multiple-matches',
      `The conditional reference "${reference}" matches ${matches === 0 ? 'nothing' : 'more than one resource'}; it must match exactly one`,
    ),
  payloadTooLarge: (limit: number) => new FhirError(413, 'payload-too-large', 'too-costly', `Request body exceeds the limit of ${limit} bytes`),
  unsupportedMediaType: (contentType: string) =>
    new FhirError(415, 'unsupported-media-type', 'not-supported', `Content-Type "${contentType}" is not supported; send application/fhir+json`),
  slotTaken: (slot: string) =>
    new FhirError(409, 'slot-taken', 'conflict', `${slot} is already taken: another appointment holds or booked it. Find another slot and try again`),
  slotUnavailable: (slot: string, status: string) =>
    new FhirError(409, 'slot-unavailable', 'conflict', `${slot} cannot be booked: its status is ${status}`),
  appointmentOverlap: (actor: string, other: string) =>
    new FhirError(409, 'appointment-overlap', 'conflict', `${actor} already has ${other} at an overlapping time, and the slot is not overbookable`),
  holdExpired: (appointment: string, expired: string) =>
    new FhirError(409, 'hold-expired', 'conflict', `The hold on ${appointment} expired at ${expired}; find and hold a slot again`),
  slotInUse: (slot: string, appointments: string[]) =>
    new FhirError(409, 'slot-in-use', 'conflict', `${slot} is used by ${appointments.join(', ')}; cancel or move the appointment first`),
  invalidTransition: (resource: string, from: string, to: string, allowed: readonly string[]) => {
    const message = `${resource} cannot go from ${from} to ${to}; allowed from ${from}: ${allowed.length ? allowed.join(', ') : 'none (final status)'}`;
    return new FhirError(422, 'invalid-transition', 'business-rule', message, [issueAt('Appointment.status', message, 'business-rule')]);
  },
  businessRule: (message: string, expression?: string) =>
    new FhirError(422, 'business-rule', 'business-rule', message, expression ? [issueAt(expression, message, 'business-rule')] : []),
  tooManyRequests: (retryAfterSeconds: number) =>
    new FhirError(429, 'too-many-requests', 'throttled', 'Too many requests', [], { 'retry-after': String(retryAfterSeconds) }),
  internal: (message = 'Internal server error') => new FhirError(500, 'internal', 'exception', message),
  unavailable: (message: string) => new FhirError(503, 'unavailable', 'transient', message),
};

/** A thrown value as the FHIR error it is answered with: its own, a 400 for a value PostgreSQL refused as text (a NUL), else a 500. */
export function asFhirError(error: unknown): FhirError {
  if (error instanceof FhirError) return error;
  const refused = refusedTextOf(error);
  return refused ? errors.badRequest(refused) : errors.internal();
}
