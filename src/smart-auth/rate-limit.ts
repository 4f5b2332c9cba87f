import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../errors.js';
import { oauthErrors } from './auth-errors.js';

/**
 * Per-client request limits (CONTRACT.md: RATE_LIMIT_PER_MINUTE).
 *
 * - `rateLimit(app, { perMinute, keyOf })`: the FHIR API. Beyond `perMinute` requests in a
 *   client's one-minute window: 429 OperationOutcome (issue code `throttled`) with `Retry-After`.
 * - `tokenRateLimit(app, { perMinute, keyOf? })`: `/oauth/token`. Same counting; the refusal is the
 *   RFC 6749 JSON error `slow_down` (429, `Retry-After`, `Cache-Control: no-store`).
 *
 * Both add a hook to the instance they are given (call them inside the plugin whose routes they
 * guard); `perMinute = 0` adds nothing, so a disabled limit costs nothing.
 *
 * The counts live in this process's memory: no database query per request, since FHIR reads are
 * benchmarked. Several processes on one database therefore each allow `perMinute` per client.
 * Each key has a fixed window that starts at its first request, so `Retry-After` is exact; a
 * client may burst up to twice the limit across a window boundary, which a per-minute abuse
 * limit tolerates.
 */

const WINDOW_MS = 60_000;

/** Counts requests per key in one-minute windows; `hit` answers 0 (go ahead) or the seconds to wait. */
export class RequestCounter {
  private readonly windows = new Map<string, { start: number; count: number }>();
  private lastSweep: number;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {
    this.lastSweep = now();
  }

  hit(key: string): number {
    const now = this.now();
    this.sweep(now);
    let window = this.windows.get(key);
    if (!window || now - window.start >= WINDOW_MS) {
      window = { start: now, count: 0 };
      this.windows.set(key, window);
    }
    // A refused request is not counted: the client's window still ends when Retry-After said.
    if (window.count >= this.perMinute) return Math.max(1, Math.ceil((window.start + WINDOW_MS - now) / 1000));
    window.count++;
    return 0;
  }

  /** Keys seen once must not stay in memory forever: drop ended windows once a minute. */
  private sweep(now: number): void {
    if (now - this.lastSweep < WINDOW_MS) return;
    this.lastSweep = now;
    for (const [key, window] of this.windows) if (now - window.start >= WINDOW_MS) this.windows.delete(key);
  }

  /** How many keys are tracked (tests check that memory is bounded). */
  get size(): number {
    return this.windows.size;
  }
}

export interface RateLimitOptions {
  /** Requests per minute per key; 0 turns the limit off. */
  perMinute: number;
  /** Who is counted: a client id, or the address of an unauthenticated request. */
  keyOf(request: FastifyRequest): string;
  /** The clock, for tests. */
  now?: () => number;
}

/**
 * The FHIR API's limit, in an `onRequest` hook: add it after the hook that verifies the access
 * token (hooks of one kind run in the order they were added), so that `keyOf` can use its client_id.
 */
export function rateLimit(app: FastifyInstance, options: RateLimitOptions): void {
  if (options.perMinute <= 0) return;
  const counter = new RequestCounter(options.perMinute, options.now);
  // A callback, not a promise: it runs on every FHIR request and waits for nothing.
  app.addHook('onRequest', (request, reply, done) => {
    const wait = counter.hit(options.keyOf(request));
    if (wait > 0) void refuseFhir(reply, wait);
    else done();
  });
}

function refuseFhir(reply: FastifyReply, seconds: number): FastifyReply {
  const error = errors.tooManyRequests(seconds);
  return reply
    .code(error.status)
    .headers(error.headers)
    .type('application/fhir+json; charset=utf-8')
    .send(JSON.stringify(error.toOperationOutcome()));
}

/**
 * The token endpoint's limit, in a `preHandler` hook so that the form body (client_id) is parsed.
 * The default key is the client (`client_id` of the form or of Basic authentication), else the address.
 */
export function tokenRateLimit(app: FastifyInstance, options: Omit<RateLimitOptions, 'keyOf'> & Partial<Pick<RateLimitOptions, 'keyOf'>>): void {
  if (options.perMinute <= 0) return;
  const counter = new RequestCounter(options.perMinute, options.now);
  const keyOf = options.keyOf ?? tokenClientKey;
  app.addHook('preHandler', async (request, reply) => {
    const wait = counter.hit(keyOf(request));
    if (wait > 0) return refuseOAuth(reply, wait);
  });
}

function refuseOAuth(reply: FastifyReply, seconds: number): FastifyReply {
  const error = oauthErrors.slowDown(seconds);
  return reply.code(error.status).headers(error.headers).header('cache-control', 'no-store').header('pragma', 'no-cache').send(error.toJSON());
}

/** `client:<id>` from the form's `client_id` or the Basic credentials, else `address:<ip>`. */
export function tokenClientKey(request: FastifyRequest): string {
  const clientId = formClientId(request.body) ?? basicClientId(request.headers.authorization);
  return clientId ? `client:${clientId}` : `address:${request.ip}`;
}

/** The form's `client_id` (the OAuth endpoints parse forms into URLSearchParams). */
function formClientId(body: unknown): string | undefined {
  return (body instanceof URLSearchParams && body.get('client_id')) || undefined;
}

/** RFC 6749 §2.3.1: the Basic user name is the form-urlencoded client_id. */
function basicClientId(authorization: string | undefined): string | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
  if (!match) return undefined;
  const user = Buffer.from(match[1], 'base64').toString('utf8').split(':', 1)[0];
  try {
    return decodeURIComponent(user.replace(/\+/g, ' ')) || undefined;
  } catch {
    return undefined;
  }
}
