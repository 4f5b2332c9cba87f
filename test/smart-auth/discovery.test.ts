import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer } from '../support/test-server.js';
import { send, startAuthServer, TEST_BASE_URL } from './oauth-support.js';

/** SMART discovery (conformance.html), OpenID Connect discovery, the key set and the style document. */
describe('discovery', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startAuthServer();
  });

  afterAll(async () => {
    await server.close();
  });

  it('serves the same smart-configuration below the FHIR base and at the root, with CORS', async () => {
    const below = await send(server.app, 'GET', '/fhir/.well-known/smart-configuration');
    const root = await send(server.app, 'GET', '/.well-known/smart-configuration');
    expect(below.status).toBe(200);
    expect(below.headers['access-control-allow-origin']).toBe('*');
    expect(String(below.headers['content-type'])).toMatch(/^application\/json/);
    expect(root.body).toEqual(below.body);
  });

  it('has every field SMART 2.x requires, and names our endpoints', async () => {
    const { body } = await send(server.app, 'GET', '/fhir/.well-known/smart-configuration');
    expect(body).toMatchObject({
      issuer: TEST_BASE_URL,
      jwks_uri: `${TEST_BASE_URL}/.well-known/jwks.json`,
      authorization_endpoint: `${TEST_BASE_URL}/oauth/authorize`,
      token_endpoint: `${TEST_BASE_URL}/oauth/token`,
      registration_endpoint: `${TEST_BASE_URL}/oauth/register`,
      introspection_endpoint: `${TEST_BASE_URL}/oauth/introspect`,
      revocation_endpoint: `${TEST_BASE_URL}/oauth/revoke`,
      code_challenge_methods_supported: ['S256'],
      response_types_supported: ['code'],
    });
    expect(body.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token', 'client_credentials']));
    expect(body.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt']),
    );
    expect(body.token_endpoint_auth_signing_alg_values_supported).toEqual(['RS384', 'ES384']);
    expect(body.scopes_supported).toEqual(expect.arrayContaining(['openid', 'fhirUser', 'launch', 'launch/patient', 'offline_access', 'online_access']));
  });

  it('lists the capabilities that work, and none that do not', async () => {
    const { body } = await send(server.app, 'GET', '/fhir/.well-known/smart-configuration');
    expect(body.capabilities).toEqual(
      expect.arrayContaining([
        'launch-ehr',
        'launch-standalone',
        'authorize-post',
        'client-public',
        'client-confidential-symmetric',
        'client-confidential-asymmetric',
        'context-ehr-patient',
        'context-ehr-encounter',
        'context-standalone-patient',
        'context-banner',
        'context-style',
        'permission-offline',
        'permission-online',
        'permission-patient',
        'permission-user',
        'permission-v1',
        'permission-v2',
        'sso-openid-connect',
      ]),
    );
    // No encounter chooser in a standalone launch, no user-facing authorization management.
    expect(body.capabilities).not.toContain('context-standalone-encounter');
    expect(body.management_endpoint).toBeUndefined();
  });

  it('answers the CORS preflight of browser apps', async () => {
    const response = await server.app.inject({
      method: 'OPTIONS',
      url: '/oauth/token',
      headers: { origin: 'https://app.example.org', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
    });
    expect(response.statusCode).toBe(204);
    expect(response.headers['access-control-allow-origin']).toBe('*');
    expect(String(response.headers['access-control-allow-headers'])).toMatch(/authorization/);
  });

  it('serves OpenID Connect discovery with the same issuer and RS256 id_tokens', async () => {
    const response = await send(server.app, 'GET', '/.well-known/openid-configuration');
    expect(response.status).toBe(200);
    expect(response.headers['access-control-allow-origin']).toBe('*');
    expect(response.body).toMatchObject({
      issuer: TEST_BASE_URL,
      authorization_endpoint: `${TEST_BASE_URL}/oauth/authorize`,
      token_endpoint: `${TEST_BASE_URL}/oauth/token`,
      jwks_uri: `${TEST_BASE_URL}/.well-known/jwks.json`,
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code'],
    });
  });

  it('publishes the public signing keys only', async () => {
    const response = await send(server.app, 'GET', '/.well-known/jwks.json');
    expect(response.status).toBe(200);
    expect(response.headers['access-control-allow-origin']).toBe('*');
    expect(response.body.keys.length).toBeGreaterThan(0);
    for (const key of response.body.keys) {
      expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
      expect(typeof key.kid).toBe('string');
      expect(key.d).toBeUndefined();
      expect(key.p).toBeUndefined();
    }
  });

  it('serves the style document named by smart_style_url', async () => {
    const response = await send(server.app, 'GET', '/oauth/smart-style.json');
    expect(response.status).toBe(200);
    expect(response.body.color_background).toMatch(/^#/);
    expect(response.body.font_family_body).toBeTruthy();
  });
});
