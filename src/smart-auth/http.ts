import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { refusedTextOf } from '../store/index.js';
import { OAuthError, oauthErrors } from './auth-errors.js';
import type { SmartAuth } from './index.js';
import { authorizeRoutes } from './oauth/authorize.js';
import { Clients } from './oauth/clients.js';
import { AuthorizationCodes } from './oauth/codes.js';
import type { OAuthServer } from './oauth/context.js';
import { discoveryRoutes, endpointsOf } from './oauth/discovery.js';
import { Interactions } from './oauth/interactions.js';
import { introspectRoutes } from './oauth/introspect.js';
import { Launches, launchRoutes } from './oauth/launch.js';
import { RefreshTokens } from './oauth/refresh-tokens.js';
import { registerRoutes } from './oauth/register.js';
import { revokeRoutes } from './oauth/revoke.js';
import { tokenRoutes } from './oauth/token.js';
import type { ScopeQueryCheck } from './oauth/granted-scopes.js';
import { authenticationEvent } from './audit/index.js';
import { tokenClientKey, tokenRateLimit } from './rate-limit.js';

export interface SmartAuthHttpOptions {
  auth: SmartAuth;
  config: Config;
  fhirBaseUrl: string;
  checkScopeQuery: ScopeQueryCheck;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Browser apps call this endpoint from other origins (discovery, token, introspection, revocation). */
    cors?: boolean;
  }
}

const FORM_BODY_LIMIT = 64 * 1024;

function corsHeaders(reply: FastifyReply): void {
  reply.header('access-control-allow-origin', '*');
  reply.header('access-control-expose-headers', 'www-authenticate');
}

/** Fastify's own failures (a body that does not parse, a wrong content type) in the RFC 6749 form. */
function toOAuthError(error: FastifyError | OAuthError, request: FastifyRequest): OAuthError {
  if (error instanceof OAuthError) return error;
  if (error.statusCode && error.statusCode < 500) return oauthErrors.invalidRequest(error.message);
  const refused = refusedTextOf(error);
  if (refused) return oauthErrors.invalidRequest(refused);
  request.log.error({ err: error }, 'OAuth request failed');
  return oauthErrors.serverError();
}

function oauthServer(options: SmartAuthHttpOptions): OAuthServer {
  const { auth, config, fhirBaseUrl } = options;
  const endpoints = endpointsOf(config.baseUrl);
  const clients = new Clients(auth.db);
  return {
    auth,
    issuer: config.baseUrl,
    fhirBaseUrl,
    endpoints,
    clients,
    clientAuth: { clients, db: auth.db, tokenEndpoint: endpoints.token, allowPrivateCallbacks: config.allowPrivateCallbacks },
    codes: new AuthorizationCodes(auth.db),
    refreshTokens: new RefreshTokens(auth.db, auth.tokens),
    launches: new Launches(auth.db),
    interactions: new Interactions(auth.db),
    allowPrivateCallbacks: config.allowPrivateCallbacks,
    secureCookies: config.baseUrl.startsWith('https:'),
    checkScopeQuery: options.checkScopeQuery,
  };
}

/**
 * The authorization server's HTTP face (SMART App Launch 2.x, OAuth 2.0, OpenID Connect):
 * discovery, /oauth/authorize with its pages, token, introspection, revocation, registration and
 * EHR launch. Its errors are RFC 6749 JSON; its pages are HTML.
 */
/** The audit action of a token endpoint request: token issue, refresh or revocation. */
function tokenEventOf(request: FastifyRequest): string | undefined {
  const path = request.url.split('?')[0];
  if (path === '/oauth/revoke') return 'token-revoke';
  if (path !== '/oauth/token') return undefined;
  const grantType = request.body instanceof URLSearchParams ? request.body.get('grant_type') : undefined;
  return grantType === 'refresh_token' ? 'token-refresh' : 'token-issue';
}

export async function smartAuthHttp(app: FastifyInstance, options: SmartAuthHttpOptions): Promise<void> {
  const server = oauthServer(options);
  const { adminClientId, adminClientSecret } = options.config;
  if (adminClientId && adminClientSecret) await server.clients.ensureAdminClient(adminClientId, adminClientSecret);

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT }, (_request, body, done) =>
    done(null, new URLSearchParams(body as string)),
  );
  app.setErrorHandler((error: FastifyError | OAuthError, request, reply) => {
    const oauthError = toOAuthError(error, request);
    return reply.code(oauthError.status).headers(oauthError.headers).send(oauthError.toJSON());
  });
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.cors) corsHeaders(reply);
    // Token responses, secrets and pages of a sign-in must never be cached (RFC 6749 §5.1).
    if (request.url.startsWith('/oauth/') && !request.url.startsWith('/oauth/smart-style.json')) {
      reply.header('cache-control', 'no-store');
      reply.header('pragma', 'no-cache');
    }
  });

  // Token issue, refresh and revocation are authentication events: each answer is audited, refusals too.
  app.addHook('onResponse', async (request, reply) => {
    const action = tokenEventOf(request);
    if (!action) return;
    const requester = { clientId: tokenClientKey(request).replace(/^(client|address):/, ''), address: request.ip };
    options.auth.recordAuthentication(authenticationEvent({ action, requester, status: reply.statusCode }));
  });

  discoveryRoutes(app, server);
  authorizeRoutes(app, server);
  // The token endpoint has its own limit per client (CONTRACT.md: RATE_LIMIT_PER_MINUTE), answered as `slow_down`.
  await app.register(async (tokenEndpoint) => {
    tokenRateLimit(tokenEndpoint, { perMinute: options.config.rateLimitPerMinute });
    tokenRoutes(tokenEndpoint, server);
  });
  introspectRoutes(app, server);
  revokeRoutes(app, server);
  registerRoutes(app, server);
  launchRoutes(app, server);

  // CORS preflight for the endpoints browser apps call across origins.
  const preflight = async (_request: FastifyRequest, reply: FastifyReply) => {
    corsHeaders(reply);
    return reply
      .code(204)
      .header('access-control-allow-methods', 'GET, POST, OPTIONS')
      .header('access-control-allow-headers', 'authorization, content-type')
      .header('access-control-max-age', '600')
      .send();
  };
  for (const url of ['/oauth/token', '/oauth/introspect', '/oauth/revoke', '/.well-known/smart-configuration', '/fhir/.well-known/smart-configuration']) {
    app.options(url, preflight);
  }
}
