import { oauthErrors } from '../auth-errors.js';

/** A request's OAuth parameters: one value each; an empty value counts as absent (RFC 6749 §3.1). */
export type OAuthParams = Partial<Record<string, string>>;

/** Reads form or query parameters, refusing a parameter sent twice (RFC 6749 §3.1: it "MUST NOT be included more than once"). */
export function singleValued(params: URLSearchParams): OAuthParams {
  const result: OAuthParams = {};
  for (const [name, value] of params) {
    if (name in result) throw oauthErrors.invalidRequest(`The parameter "${name}" is repeated`);
    result[name] = value;
  }
  for (const name of Object.keys(result)) if (result[name] === '') delete result[name];
  return result;
}

/** A request body that should be a form: anything else has no OAuth parameters. */
export function formBody(body: unknown): URLSearchParams {
  return body instanceof URLSearchParams ? body : new URLSearchParams();
}

export function required(params: OAuthParams, name: string): string {
  const value = params[name];
  if (value === undefined) throw oauthErrors.invalidRequest(`The parameter "${name}" is required`);
  return value;
}
