import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { isPrivateAddress, publicOnlyLookup } from './endpoint-address.js';
import { SIGNATURE_HEADER } from './vocabulary.js';

export interface RestHookRequest {
  endpoint: string;
  headers: [string, string][];
  /** The body and its type; none for a classic subscription without payload. */
  body?: string;
  contentType?: string;
  secret?: string;
  timeoutMs: number;
  allowPrivate: boolean;
}

export interface RestHookResult {
  ok: boolean;
  status?: number;
  error?: string;
}

/** Subscriptions one process delivers to at the same time; a slow endpoint holds one of these, never a database connection. */
export const MAX_IN_FLIGHT = 64;

/**
 * Connections to endpoints are reused (keep-alive); each request still has its own time limit. As
 * many per host as deliveries may be in flight: a subscription sends one notification at a time,
 * and subscriptions sharing an endpoint would otherwise queue for a socket behind each other.
 */
const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT }),
  https: new https.Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT }),
};

const RESPONSE_LIMIT = 64 * 1024;

/** Headers a Subscription cannot set: the server computes them, or they belong to the connection. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'content-type', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'expect', 'te', 'trailer', 'proxy-connection']);

/** `sha256=<hex HMAC-SHA256 of the body with the subscription's secret>` (the GitHub / WebSub convention). */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/**
 * POSTs one notification. Success is a 2xx answer within the time limit; anything else (refused,
 * timed out, redirected, an error status) is a failure to retry. No redirect is followed.
 */
export function postNotification(request: RestHookRequest): Promise<RestHookResult> {
  let target: URL;
  try {
    target = new URL(request.endpoint);
  } catch {
    return Promise.resolve({ ok: false, error: 'The endpoint is not a URL' });
  }
  const literal = target.hostname.replace(/^\[|\]$/g, '');
  if (!request.allowPrivate && isIP(literal) && isPrivateAddress(literal)) {
    return Promise.resolve({ ok: false, error: `${literal} is a private address` });
  }
  const body = request.body ?? '';
  const headers: Record<string, string> = {};
  for (const [name, value] of request.headers) {
    const lower = name.toLowerCase();
    if (!RESERVED_HEADERS.has(lower) && lower !== SIGNATURE_HEADER) headers[lower] = value;
  }
  if (request.body !== undefined) headers['content-type'] = request.contentType ?? 'application/fhir+json';
  headers['content-length'] = String(Buffer.byteLength(body));
  if (request.secret) headers[SIGNATURE_HEADER] = signature(request.secret, body);
  const secure = target.protocol === 'https:';
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: RestHookResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve(result);
    };
    const outgoing = (secure ? https : http).request(target, {
      method: 'POST',
      headers,
      agent: secure ? agents.https : agents.http,
      lookup: request.allowPrivate ? undefined : publicOnlyLookup,
    });
    // The whole exchange, not only each idle gap, must end within the time allowed.
    const deadline = setTimeout(() => {
      outgoing.destroy(new Error(`no answer within ${request.timeoutMs} ms`));
    }, request.timeoutMs);
    outgoing.on('error', (error) => finish({ ok: false, error: error.message }));
    outgoing.on('response', (response) => {
      const status = response.statusCode ?? 0;
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > RESPONSE_LIMIT) response.destroy();
      });
      const done = () => finish(status >= 200 && status < 300 ? { ok: true, status } : { ok: false, status, error: `the endpoint answered ${status}` });
      response.on('end', done);
      response.on('close', done);
      response.on('error', () => done());
    });
    outgoing.end(body);
  });
}
