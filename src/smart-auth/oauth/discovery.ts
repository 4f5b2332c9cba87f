import type { FastifyInstance } from 'fastify';
import { SIGNING_ALG } from '../keys.js';
import { ASSERTION_ALGS } from './client-assertion.js';
import { AUTH_METHODS, GRANT_TYPES } from './clients.js';
import type { OAuthServer } from './context.js';
import { CONTEXT_SCOPES } from './granted-scopes.js';

export interface Endpoints {
  authorize: string;
  token: string;
  introspect: string;
  revoke: string;
  register: string;
  launch: string;
  jwks: string;
  smartStyle: string;
}

export function endpointsOf(baseUrl: string): Endpoints {
  return {
    authorize: `${baseUrl}/oauth/authorize`,
    token: `${baseUrl}/oauth/token`,
    introspect: `${baseUrl}/oauth/introspect`,
    revoke: `${baseUrl}/oauth/revoke`,
    register: `${baseUrl}/oauth/register`,
    launch: `${baseUrl}/oauth/launch`,
    jwks: `${baseUrl}/.well-known/jwks.json`,
    smartStyle: `${baseUrl}/oauth/smart-style.json`,
  };
}

/** What works, and only that (smart-app-launch conformance.html#capability-sets). */
const CAPABILITIES = [
  'launch-ehr',
  'launch-standalone',
  'authorize-post',
  'client-public',
  'client-confidential-symmetric',
  'client-confidential-asymmetric',
  'sso-openid-connect',
  'context-banner',
  'context-style',
  'context-ehr-patient',
  'context-ehr-encounter',
  'context-standalone-patient',
  'permission-offline',
  'permission-online',
  'permission-patient',
  'permission-user',
  'permission-v1',
  'permission-v2',
];

const SCOPES_SUPPORTED = [
  ...CONTEXT_SCOPES,
  'patient/*.cruds',
  'user/*.cruds',
  'system/*.cruds',
  'patient/*.rs',
  'user/*.rs',
  'system/*.rs',
  'patient/*.*',
  'user/*.*',
  'system/*.*',
  'patient/*.read',
  'user/*.read',
  'system/*.read',
];

/** /.well-known/smart-configuration (SMART App Launch 2.x §Conformance). */
export function smartConfiguration(server: OAuthServer): Record<string, unknown> {
  const { endpoints } = server;
  return {
    issuer: server.issuer,
    jwks_uri: endpoints.jwks,
    authorization_endpoint: endpoints.authorize,
    token_endpoint: endpoints.token,
    token_endpoint_auth_methods_supported: AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    registration_endpoint: endpoints.register,
    introspection_endpoint: endpoints.introspect,
    revocation_endpoint: endpoints.revoke,
    grant_types_supported: GRANT_TYPES,
    response_types_supported: ['code'],
    scopes_supported: SCOPES_SUPPORTED,
    code_challenge_methods_supported: ['S256'],
    capabilities: CAPABILITIES,
  };
}

/** /.well-known/openid-configuration (OpenID Connect Discovery 1.0 §3). */
export function openidConfiguration(server: OAuthServer): Record<string, unknown> {
  const { endpoints } = server;
  return {
    issuer: server.issuer,
    authorization_endpoint: endpoints.authorize,
    token_endpoint: endpoints.token,
    jwks_uri: endpoints.jwks,
    registration_endpoint: endpoints.register,
    introspection_endpoint: endpoints.introspect,
    revocation_endpoint: endpoints.revoke,
    scopes_supported: SCOPES_SUPPORTED,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: GRANT_TYPES,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [SIGNING_ALG],
    token_endpoint_auth_methods_supported: AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'nonce', 'fhirUser'],
    code_challenge_methods_supported: ['S256'],
  };
}

/** SMART's style document (`smart_style_url`): the look of the pages, for apps that want to match it. */
const SMART_STYLE = {
  color_background: '#f4f6f8',
  color_error: '#b42318',
  color_highlight: '#0b5cad',
  color_modal_backdrop: 'rgba(16, 24, 40, 0.5)',
  color_success: '#067647',
  color_text: '#1d2939',
  dim_border_radius: '8px',
  dim_font_size: '16px',
  dim_spacing_size: '16px',
  font_family_body: 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
  font_family_heading: 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
};

/** The discovery documents, the key set and the style document; all public, all with CORS (see http.ts). */
export function discoveryRoutes(app: FastifyInstance, server: OAuthServer): void {
  const cors = { cors: true };
  app.get('/fhir/.well-known/smart-configuration', { config: cors }, async () => smartConfiguration(server));
  app.get('/.well-known/smart-configuration', { config: cors }, async () => smartConfiguration(server));
  app.get('/.well-known/openid-configuration', { config: cors }, async () => openidConfiguration(server));
  app.get('/.well-known/jwks.json', { config: cors }, async () => server.auth.keys.jwks());
  app.get('/oauth/smart-style.json', { config: cors }, async () => SMART_STYLE);
}
