import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errors, FhirError } from '../errors.js';
import type { SearchEngine } from '../search/index.js';
import type { Store } from '../store/index.js';
import { responseFormat, type ResponseFormat } from './content-negotiation.js';
import { dispatch } from './router.js';
import type { FhirRequest, FhirResponse } from './types.js';

export interface FhirHttpOptions {
  store: Store;
  search: SearchEngine;
  /** The public FHIR base URL (BASE_URL + /fhir). */
  fhirBaseUrl: string;
  bodyLimit: number;
}

const JSON_TYPES = ['application/fhir+json', 'application/json', 'application/json+fhir'];

function parseJsonBody(_request: FastifyRequest, body: string, done: (error: Error | null, value?: unknown) => void): void {
  if (body.trim() === '') return done(null, undefined);
  try {
    done(null, JSON.parse(body));
  } catch (error) {
    done(errors.invalidJson((error as Error).message));
  }
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

function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    throw errors.badRequest(`Malformed URL path "${path}"`);
  }
}

function toFhirRequest(request: FastifyRequest): FhirRequest {
  const [rawPath, rawQuery = ''] = request.url.split('?', 2) as [string, string?];
  const path = decodePath(rawPath.replace(/^\/fhir\/?/, '').replace(/\/+$/, ''));
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
      return errors.internal();
  }
}

/** The FHIR REST API under /fhir: HTTP in, FhirRequest to the router, FhirResponse out. */
export async function fhirHttp(app: FastifyInstance, options: FhirHttpOptions): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser([...JSON_TYPES, 'application/json-patch+json'], { parseAs: 'string', bodyLimit: options.bodyLimit }, parseJsonBody);
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: options.bodyLimit }, (_req, body, done) =>
    done(null, new URLSearchParams(body as string)),
  );

  app.setErrorHandler((error: FastifyError | FhirError, request, reply) => {
    const fhirError = toFhirError(error, request, options.bodyLimit);
    if (fhirError.status >= 500) request.log.error({ err: error }, 'request failed');
    const response = { status: fhirError.status, headers: fhirError.headers, body: fhirError.toOperationOutcome() };
    return send(reply, response, 'application/fhir+json', false);
  });

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const query = request.query as Record<string, string | undefined>;
    const format = responseFormat(query._format, header(request, 'accept'));
    const context = { store: options.store, search: options.search, baseUrl: options.fhirBaseUrl, log: request.log };
    const response = await dispatch(toFhirRequest(request), context);
    return send(reply, response, format, isPretty(request));
  };
  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
  app.route({ method: [...methods], url: '/', handler, exposeHeadRoute: false });
  app.route({ method: [...methods], url: '/*', handler, exposeHeadRoute: false });
}
