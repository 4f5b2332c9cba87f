import { FhirError } from '../errors.js';

/**
 * Errors of the authorization server in the RFC 6749 form (`{"error": ..., "error_description": ...}`),
 * and the 401 of a FHIR request without a valid bearer token (RFC 6750, with WWW-Authenticate).
 */
export class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
    this.name = 'OAuthError';
  }

  toJSON(): { error: string; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

export const oauthErrors = {
  invalidRequest: (description: string) => new OAuthError(400, 'invalid_request', description),
  invalidClient: (description: string) => new OAuthError(401, 'invalid_client', description, { 'www-authenticate': 'Basic realm="oauth"' }),
  invalidGrant: (description: string) => new OAuthError(400, 'invalid_grant', description),
  unauthorizedClient: (description: string) => new OAuthError(400, 'unauthorized_client', description),
  unsupportedGrantType: (grantType: string) => new OAuthError(400, 'unsupported_grant_type', `Grant type "${grantType}" is not supported`),
  invalidScope: (description: string) => new OAuthError(400, 'invalid_scope', description),
  accessDenied: (description: string) => new OAuthError(403, 'access_denied', description),
  invalidToken: (description: string) =>
    new OAuthError(401, 'invalid_token', description, { 'www-authenticate': `Bearer error="invalid_token", error_description="${description.replace(/"/g, "'")}"` }),
  insufficientScope: (scope: string) =>
    new OAuthError(403, 'insufficient_scope', `This request needs the "${scope}" scope`, { 'www-authenticate': `Bearer error="insufficient_scope", scope="${scope}"` }),
  unsupportedResponseType: (responseType: string) => new OAuthError(400, 'unsupported_response_type', `Response type "${responseType}" is not supported`),
  serverError: () => new OAuthError(500, 'server_error', 'The authorization server failed to answer this request'),
  invalidClientMetadata: (description: string) => new OAuthError(400, 'invalid_client_metadata', description),
  invalidRedirectUri: (description: string) => new OAuthError(400, 'invalid_redirect_uri', description),
  slowDown: (seconds: number) => new OAuthError(429, 'slow_down', 'Too many requests', { 'retry-after': String(seconds) }),
};

/** A FHIR request's token problems: 401 OperationOutcome with the RFC 6750 challenge. */
export const authErrors = {
  missingToken: () =>
    new FhirError(401, 'unauthorized', 'login', 'This request needs an access token (Authorization: Bearer)', [], {
      'www-authenticate': 'Bearer realm="fhir"',
    }),
  invalidToken: (description: string) =>
    new FhirError(401, 'invalid-token', 'login', description, [], {
      'www-authenticate': `Bearer realm="fhir", error="invalid_token", error_description="${description.replace(/"/g, "'")}"`,
    }),
};
