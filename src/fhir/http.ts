import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { asFhirError, errors, FhirError } from '../errors.js';
import type { SearchEngine } from '../search/index.js';
import { ANONYMOUS, type AccessPolicy, type SmartAuth } from '../smart-auth/index.js';
import { rateLimit } from '../smart-auth/rate-limit.js';
import type { AuditLog, Interaction } from '../smart-auth/audit/index.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The requester's compiled access policy, set by the FHIR plugin's first hook. */
    access: AccessPolicy | null;
    /** The FHIR interaction the request was, once routed. */
    fhir: FhirRequest | null;
  }
}
import { accessPolicyOf, isPublic } from './authenticate.js';
import type { Store } from '../store/index.js';
import { checkBodyVersion, responseFormat, type ResponseFormat } from './content-negotiation.js';
import { jsonBodyParser, parseJson } from './json-body.js';
import { dispatch } from './router.js';
import { SpooledBundle } from './transaction/bundle-source.js';
import type { FhirRequest, FhirResponse } from './types.js';

export interface FhirHttpOptions {
  store: Store;
  search: SearchEngine;
  auth: SmartAuth;
  /** FHIR API requests per minute per client (0: no limit). */
  rateLimitPerMinute: number;
  audit: AuditLog;
  /** The public FHIR base URL (BASE_URL + /fhir). */
  fhirBaseUrl: string;
  bodyLimit: number;
  /** A batch or transaction body larger than this is spooled to a file in `spoolDir` (json-body.ts). */
  spoolThreshold: number;
  spoolDir: string;
}

const JSON_TYPES = ['application/fhir+json', 'application/json', 'application/json+fhir'];

function parseJsonPatch(_request: FastifyRequest, body: string, done: (error: Error | null, value?: unknown) => void): void {
  try {
    done(null, parseJson(body));
  } catch (error) {
    done(error as Error);
  }
}

/** A POST to the base is a batch or transaction (router.ts): the one body that may be spooled. */
function isBundlePost(request: FastifyRequest): boolean {
  return request.method === 'POST' && splitUrl(request.url).path === '';
}

function bodyFormat(request: FastifyRequest): FhirRequest['bodyFormat'] {
  const contentType = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (contentType === 'application/json-patch+json') return 'json-patch';
  if (contentType === 'application/x-www-form-urlencoded') return 'form';
  return 'resource';
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The URL's path below the FHIR base, decoded, and its query; only the first `?` starts the query (a value may hold another). */
function splitUrl(url: string): { path: string; query: string } {
  const mark = url.indexOf('?');
  const rawPath = (mark < 0 ? url : url.slice(0, mark)).replace(/^\/fhir\/?/, '').replace(/\/+$/, '');
  try {
    return { path: decodeURIComponent(rawPath), query: mark < 0 ? '' : url.slice(mark + 1) };
  } catch {
    throw errors.badRequest(`Malformed URL path "${rawPath}"`);
  }
}

function toFhirRequest(request: FastifyRequest): FhirRequest {
  const { path, query: rawQuery } = splitUrl(request.url);
  return {
    method: request.method,
    path,
    query: new URLSearchParams(rawQuery),
    headers: {
      ifMatch: header(request, 'if-match'),
      ifNoneMatch: header(request, 'if-none-match'),
      ifNoneExist: header(request, 'if-none-exist'),
      ifModifiedSince: header(request, 'if-modified-since'),
      prefer: header(request, 'prefer'),
    },
    body: request.body,
    bodyFormat: request.body === undefined ? undefined : bodyFormat(request),
  };
}

function isPretty(request: FastifyRequest): boolean {
  return (request.query as Record<string, string>)._pretty === 'true';
}

function serialize(response: FhirResponse, pretty: boolean): string | undefined {
  if (response.json !== undefined) return pretty ? JSON.stringify(JSON.parse(response.json), null, 2) : response.json;
  if (response.body !== undefined) return JSON.stringify(response.body, null, pretty ? 2 : undefined);
  return undefined;
}

function send(reply: FastifyReply, response: FhirResponse, format: ResponseFormat, pretty: boolean): FastifyReply {
  reply.code(response.status).headers(response.headers ?? {});
  if (response.stream) return reply.type(`${format}; charset=utf-8`).send(response.stream);
  const payload = response.status === 304 ? undefined : serialize(response, pretty);
  if (payload === undefined) return reply.send();
  return reply.type(`${format}; charset=utf-8`).send(payload);
}

/** Fastify's own errors (body parsing, limits) become the FHIR errors of our catalogue. */
function toFhirError(error: FastifyError | FhirError, request: FastifyRequest, bodyLimit: number): FhirError {
  if (error instanceof FhirError) return error;
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errors.payloadTooLarge(bodyLimit);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      // Fastify's message is only "Unsupported Media Type": name what the client sent.
      return errors.unsupportedMediaType(header(request, 'content-type') ?? '(none)');
    default:
      if (error.statusCode && error.statusCode < 500) return new FhirError(error.statusCode, 'bad-request', 'invalid', error.message);
      return asFhirError(error);
  }
}

/** The audit record of a request that changed nothing: what was asked, by whom, and the answer's status. */
function auditedInteraction(fhir: FhirRequest, request: FastifyRequest, status: number): Interaction {
  const [type, id] = fhir.path.split('/');
  const reference = type && id && !id.startsWith('$') && !id.startsWith('_') ? `${type}/${id}` : undefined;
  const query = fhir.interaction?.startsWith('search') ? fhir.query.toString() : undefined;
  return {
    interaction: fhir.interaction ?? 'unknown',
    requester: { access: request.access ?? undefined, address: request.ip },
    status,
    references: reference ? [reference] : undefined,
    query,
  };
}

/**
 * SMART apps running in a browser call the API from their own origin with a bearer token (never a
 * cookie), so any origin may: every response allows it and a CORS preflight is answered here.
 */
const CORS_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';
const CORS_HEADERS = 'authorization, content-type, accept, if-match, if-none-match, if-none-exist, if-modified-since, prefer';
const CORS_EXPOSED = 'location, content-location, etag, last-modified, www-authenticate, retry-after';

function allowCrossOrigin(request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
  reply.header('access-control-allow-origin', '*');
  reply.header('access-control-expose-headers', CORS_EXPOSED);
  if (request.method !== 'OPTIONS') return undefined;
  return reply
    .code(204)
    .header('access-control-allow-methods', CORS_METHODS)
    .header('access-control-allow-headers', header(request, 'access-control-request-headers') ?? CORS_HEADERS)
    .header('access-control-max-age', '600')
    .send();
}

/** The FHIR REST API under /fhir: HTTP in, FhirRequest to the router, FhirResponse out. */
export async function fhirHttp(app: FastifyInstance, options: FhirHttpOptions): Promise<void> {
  app.removeAllContentTypeParsers();
  const { bodyLimit, spoolThreshold, spoolDir } = options;
  app.addContentTypeParser(JSON_TYPES, jsonBodyParser({ bodyLimit, spoolThreshold, spoolDir, spools: isBundlePost }));
  app.addContentTypeParser('application/json-patch+json', { parseAs: 'string', bodyLimit }, parseJsonPatch);
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: options.bodyLimit }, (_req, body, done) =>
    done(null, new URLSearchParams(body as string)),
  );

  app.setErrorHandler((error: FastifyError | FhirError, request, reply) => {
    const fhirError = toFhirError(error, request, options.bodyLimit);
    if (fhirError.status >= 500) request.log.error({ err: error }, 'request failed');
    const response = { status: fhirError.status, headers: fhirError.headers, body: fhirError.toOperationOutcome() };
    return send(reply, response, 'application/fhir+json', false);
  });

  // A preflight is answered before anything else (it carries no token); every answer allows other origins.
  // Hooks that do not wait for anything take fastify's callback, not a promise: they run on every request.
  app.addHook('onRequest', (request, reply, done) => {
    if (!allowCrossOrigin(request, reply)) done();
  });
  // Who is asking is known before anything else runs: the rate limit counts per client.
  app.decorateRequest('access', null);
  app.addHook('onRequest', async (request) => {
    request.access = isPublic(request.method, splitUrl(request.url).path) ? ANONYMOUS : await accessPolicyOf(request, options.auth);
  });
  rateLimit(app, { perMinute: options.rateLimitPerMinute, keyOf: (request) => request.access?.clientId ?? request.ip });
  app.decorateRequest('fhir', null);
  // Successful writes are audited inside their own transaction (the write hook); everything else here.
  app.addHook('onResponse', (request, reply, done) => {
    const fhir = request.fhir;
    const wroteAndAudited = reply.statusCode < 400 && ['create', 'update', 'patch', 'delete'].includes(fhir?.interaction ?? '');
    if (fhir && !wroteAndAudited) options.audit.recordInteraction(auditedInteraction(fhir, request, reply.statusCode));
    done();
  });

  const answer = async (request: FastifyRequest): Promise<FhirResponse> => {
    const fhirRequest = toFhirRequest(request);
    request.fhir = fhirRequest;
    const context = { store: options.store, search: options.search, access: request.access as AccessPolicy, baseUrl: options.fhirBaseUrl, log: request.log };
    return dispatch(fhirRequest, context);
  };
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const query = request.query as Record<string, string | undefined>;
    let format: ResponseFormat;
    let response: FhirResponse;
    try {
      format = responseFormat(query._format, header(request, 'accept'));
      checkBodyVersion(header(request, 'content-type'));
      response = await answer(request);
    } finally {
      // The handler runs for every request whose body was parsed (this plugin has no later hook that
      // could answer first), so this is where a spooled body's file goes, whatever the outcome, and
      // before the answer: a client that has its answer finds no file of its request left.
      if (request.body instanceof SpooledBundle) await request.body.release();
    }
    return send(reply, response, format, isPretty(request));
  };
  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
  app.route({ method: [...methods], url: '/', handler, exposeHeadRoute: false });
  app.route({ method: [...methods], url: '/*', handler, exposeHeadRoute: false });
  // Answered by the CORS hook above; the routes only make the preflight reach it.
  const preflight = async (_request: FastifyRequest, reply: FastifyReply) => reply.code(204).send();
  app.route({ method: 'OPTIONS', url: '/', handler: preflight });
  app.route({ method: 'OPTIONS', url: '/*', handler: preflight });
}
