import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { base64url, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchJson, OutboundRefused } from '../../src/smart-auth/oauth/outbound.js';
import { type TestServer } from '../support/test-server.js';
import { expectOAuthError, postForm, registerClient, startAuthServer, TOKEN_ENDPOINT, type RegisteredClient } from './oauth-support.js';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

interface Signer {
  key: CryptoKey;
  publicJwk: JWK;
  kid: string;
  alg: 'RS384' | 'ES384';
}

async function signer(alg: 'RS384' | 'ES384'): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  return { key: privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg }, kid, alg };
}

interface AssertionOptions {
  iss?: string;
  sub?: string;
  aud?: string;
  exp?: number;
  jti?: string;
  kid?: string;
}

function assertion(signer: Signer, clientId: string, options: AssertionOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: signer.alg, kid: options.kid ?? signer.kid, typ: 'JWT' })
    .setIssuer(options.iss ?? clientId)
    .setSubject(options.sub ?? clientId)
    .setAudience(options.aud ?? TOKEN_ENDPOINT)
    .setExpirationTime(options.exp ?? now + 240)
    .setJti(options.jti ?? randomUUID())
    .sign(signer.key);
}

/** private_key_jwt per SMART Backend Services (backend-services.html) and RFC 7523. */
describe('client assertions (private_key_jwt)', () => {
  let server: TestServer;
  let rsa: Signer;
  let ec: Signer;
  let service: RegisteredClient;
  let jwksHost: Server;
  let jwksUri: string;

  beforeAll(async () => {
    server = await startAuthServer();
    rsa = await signer('RS384');
    ec = await signer('ES384');
    service = await registerClient(server.app, {
      client_name: 'Bulk export',
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [rsa.publicJwk, ec.publicJwk] },
      scope: 'system/*.rs',
    });
    jwksHost = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ keys: [rsa.publicJwk] }));
    });
    await new Promise<void>((resolve) => jwksHost.listen(0, '127.0.0.1', resolve));
    jwksUri = `http://127.0.0.1:${(jwksHost.address() as AddressInfo).port}/jwks.json`;
  });

  afterAll(async () => {
    await new Promise((resolve) => jwksHost.close(resolve));
    await server.close();
  });

  const expectRefused = (response: Awaited<ReturnType<typeof token>>, reason: RegExp) => {
    expectOAuthError(response, 401, 'invalid_client');
    expect(response.body.error_description).toMatch(reason);
  };

  const token = (clientAssertion: string, extra: Record<string, string> = {}) =>
    postForm(server.app, '/oauth/token', {
      grant_type: 'client_credentials',
      scope: 'system/Patient.rs',
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: clientAssertion,
      ...extra,
    });

  it('refuses an assertion for another audience', async () => {
    expectRefused(await token(await assertion(rsa, service.client_id, { aud: 'https://other.example.org/token' })), /"aud"/);
  });

  it('refuses an expired assertion', async () => {
    expectRefused(await token(await assertion(rsa, service.client_id, { exp: Math.floor(Date.now() / 1000) - 120 })), /expired/);
  });

  it('refuses an assertion valid for more than five minutes ahead', async () => {
    const response = await token(await assertion(rsa, service.client_id, { exp: Math.floor(Date.now() / 1000) + 600 }));
    expectOAuthError(response, 401, 'invalid_client');
    expect(response.body.error_description).toMatch(/five minutes/);
  });

  it('refuses a replayed jti', async () => {
    const jti = randomUUID();
    expect((await token(await assertion(rsa, service.client_id, { jti }))).status).toBe(200);
    expectRefused(await token(await assertion(rsa, service.client_id, { jti })), /used before/);
    const { rows } = await server.db.query('SELECT client_id FROM auth_assertion_jti WHERE jti = $1', [jti]);
    expect(rows).toEqual([{ client_id: service.client_id }]);
  });

  it('refuses alg none', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT', kid: rsa.kid }));
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: service.client_id, sub: service.client_id, aud: TOKEN_ENDPOINT, exp: now + 240, jti: randomUUID() };
    expectRefused(await token(`${header}.${base64url.encode(JSON.stringify(claims))}.`), /RS384 or ES384, not "none"/);
  });

  it('refuses HS256 (an HMAC made with a public value) and RS256', async () => {
    const now = Math.floor(Date.now() / 1000);
    const hmac = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', kid: rsa.kid })
      .setIssuer(service.client_id)
      .setSubject(service.client_id)
      .setAudience(TOKEN_ENDPOINT)
      .setExpirationTime(now + 240)
      .setJti(randomUUID())
      .sign(new TextEncoder().encode(JSON.stringify(rsa.publicJwk)));
    expectRefused(await token(hmac), /not "HS256"/);

    const { privateKey } = await generateKeyPair('RS256');
    const rs256 = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: rsa.kid })
      .setIssuer(service.client_id)
      .setSubject(service.client_id)
      .setAudience(TOKEN_ENDPOINT)
      .setExpirationTime(now + 240)
      .setJti(randomUUID())
      .sign(privateKey);
    expectRefused(await token(rs256), /not "RS256"/);
  });

  it('refuses an unknown kid, and a registered kid with a signature by another key', async () => {
    expectRefused(await token(await assertion(rsa, service.client_id, { kid: 'unknown-kid' })), /kid/);
    const impostor = { ...(await signer('RS384')), kid: rsa.kid };
    expectRefused(await token(await assertion(impostor, service.client_id)), /signature/);
  });

  it('refuses iss or sub other than the client', async () => {
    expectRefused(await token(await assertion(rsa, service.client_id, { sub: 'someone-else' })), /"sub"/);
    expectOAuthError(await token(await assertion(rsa, service.client_id, { iss: 'someone-else' }), { client_id: service.client_id }), 401, 'invalid_client');
  });

  it('answers an unsupported or missing client_assertion_type as a malformed request (400 invalid_request), issuing nothing', async () => {
    const jti = randomUUID();
    const good = await assertion(rsa, service.client_id, { jti });
    for (const assertionType of ['not_an_assertion_type', '']) {
      const response = await token(good, { client_assertion_type: assertionType });
      expectOAuthError(response, 400, 'invalid_request');
      expect(response.body.error_description).toMatch(/client_assertion_type/);
      expect(response.body.access_token).toBeUndefined();
    }
    const { rows } = await server.db.query('SELECT jti FROM auth_assertion_jti WHERE jti = $1', [jti]);
    expect(rows).toEqual([]);
  });

  it('refuses something that is not a JWT', async () => {
    expectOAuthError(await token('not.a.jwt', { client_id: service.client_id }), 401, 'invalid_client');
  });

  it('refuses a secret from a private_key_jwt client', async () => {
    const response = await postForm(server.app, '/oauth/token', {
      grant_type: 'client_credentials',
      scope: 'system/Patient.rs',
      client_id: service.client_id,
      client_secret: 'guess',
    });
    expectOAuthError(response, 401, 'invalid_client');
  });

  it('grants a token for an RS384 assertion and for an ES384 one', async () => {
    for (const key of [rsa, ec]) {
      const response = await token(await assertion(key, service.client_id));
      expect(response.status, key.alg).toBe(200);
      expect(response.body).toMatchObject({ token_type: 'Bearer', scope: 'system/Patient.rs', expires_in: 3600 });
    }
  });

  it('still refuses scopes beyond the registration', async () => {
    expectOAuthError(await token(await assertion(rsa, service.client_id), { scope: 'system/Patient.cruds' }), 400, 'invalid_scope');
  });

  it('reads the keys from a registered jwks_uri', async () => {
    const remote = await registerClient(server.app, {
      client_name: 'Remote keys',
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks_uri: jwksUri,
      scope: 'system/*.rs',
    });
    const response = await token(await assertion(rsa, remote.client_id));
    expect(response.status).toBe(200);
    expectOAuthError(await token(await assertion(ec, remote.client_id)), 401, 'invalid_client');
  });

  it('refuses loopback and private addresses for a jwks_uri unless private callbacks are allowed', async () => {
    const options = { allowPrivate: false, timeoutMs: 2000, maxBytes: 10_000 };
    await expect(fetchJson(jwksUri, options)).rejects.toBeInstanceOf(OutboundRefused);
    await expect(fetchJson(jwksUri.replace('127.0.0.1', 'localhost'), options)).rejects.toThrow(/private address/);
    await expect(fetchJson('http://[::1]:9/jwks', options)).rejects.toBeInstanceOf(OutboundRefused);
    await expect(fetchJson('http://10.1.2.3/jwks', options)).rejects.toBeInstanceOf(OutboundRefused);
    await expect(fetchJson('file:///etc/passwd', options)).rejects.toBeInstanceOf(OutboundRefused);
    expect(await fetchJson(jwksUri, { ...options, allowPrivate: true })).toEqual({ keys: [rsa.publicJwk] });
  });
});
