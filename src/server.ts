import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Config } from './config.js';
import { loadDefinitions } from './definitions/index.js';
import { errors, type FhirError } from './errors.js';
import { fhirHttp } from './fhir/http.js';
import { BulkExportRunner, bulkExportHttp } from './fhir/operations/bulk-export/index.js';
import { storeOwnOperationDefinitions } from './fhir/operations/definitions.js';
import { assertValidResource } from './fhir/validation/index.js';
import { Scheduling } from './resources/index.js';
import { PlannerStatistics, SearchEngine } from './search/index.js';
import { adminUsersHttp } from './smart-auth/admin-users.js';
import { smartAuthHttp } from './smart-auth/http.js';
import { AuditLog } from './smart-auth/audit/index.js';
import { SmartAuth, writeAccessHook } from './smart-auth/index.js';
import { Database, Store } from './store/index.js';
import { Subscriptions } from './subscriptions/index.js';

/** Fastify answers a URL it cannot decode before any route or error handler runs: a FHIR error too. */
function badUrl(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const outcome = errors.badRequest(error.message).toOperationOutcome();
  void reply.code(400).type('application/fhir+json; charset=utf-8').send(JSON.stringify(outcome));
}

/**
 * Node's HTTP parser refuses some requests before fastify sees them: most often a URL with raw
 * non-ASCII characters (`?name=Müller`, which clients must percent-encode), or headers too large.
 * They are answered with an OperationOutcome like every other error, and the connection is closed
 * (the parser cannot read on from a request it could not parse).
 */
function malformedHttp(error: NodeJS.ErrnoException & { reason?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed || !socket.writable) return void socket.destroy();
  const fhirError = malformedHttpError(error);
  const body = JSON.stringify(fhirError.toOperationOutcome());
  socket.end(
    `HTTP/1.1 ${fhirError.status} ${STATUS_CODES[fhirError.status]}\r\nContent-Type: application/fhir+json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function malformedHttpError(error: NodeJS.ErrnoException & { reason?: string }): FhirError {
  if (error.code === 'HPE_HEADER_OVERFLOW') return errors.headersTooLarge();
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return errors.requestTimeout();
  const reason = error.reason ?? error.message;
  const hint = error.code === 'HPE_INVALID_URL' ? ' (characters outside ASCII must be percent-encoded in a URL, RFC 3986)' : '';
  return errors.badRequest(`Malformed HTTP request: ${reason}${hint}`);
}

/**
 * The access log: one line per request as it is answered, at `info` (method, URL, client, status,
 * time). Fastify's own writes a second line as each request arrives, which cost a read about 4% of
 * its server time at the default level; that line is written at `debug` here.
 */
class AccessLog extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

export interface ServerParts {
  app: FastifyInstance;
  store: Store;
  search: SearchEngine;
  auth: SmartAuth;
}

/**
 * The composition root: the only place that wires the pieces together. Everything the server does
 * to a write hangs off the store's write path here, in order.
 */
export async function buildServer(config: Config, db: Database, logger: boolean | object = { level: config.logLevel }): Promise<ServerParts> {
  loadDefinitions();
  const fhirBaseUrl = `${config.baseUrl}/fhir`;
  const store = new Store(db);
  const search = new SearchEngine(fhirBaseUrl, config.reindexInlineLimit, config.searchCountTimeoutMs);
  store.addWriteHook({
    name: 'validate',
    beforeWrite: (_tx, change) => {
      if (change.resource && !change.trusted) assertValidResource(change.resource);
    },
  });
  for (const hook of search.writeHooks()) store.addWriteHook(hook);
  store.addWriteHook(writeAccessHook(search));
  // Domain rules, once the requester may make the change at all: availability, booking, answers.
  const scheduling = new Scheduling(store, search, fhirBaseUrl, db, {
    holdSeconds: config.appointmentHoldSeconds,
    holdSweepMs: config.appointmentHoldSweepMs,
    log: { warn: (object, message) => app.log.warn(object, message) },
  });
  for (const hook of scheduling.writeHooks()) store.addWriteHook(hook);
  await search.start(db);
  await storeOwnOperationDefinitions(store, fhirBaseUrl);
  const auth = new SmartAuth(db, { issuer: config.baseUrl, fhirBaseUrl });
  await auth.start();
  // Subscriptions on the write path only check Subscriptions and topics and keep their state; they
  // are matched and delivered from the change feed after commit (src/subscriptions).
  const subscriptions = new Subscriptions({
    db,
    store,
    search,
    auth,
    fhirBaseUrl,
    allowPrivateCallbacks: config.allowPrivateCallbacks,
    maxAttempts: config.subscriptionMaxAttempts,
    retryBaseMs: config.subscriptionRetryBaseMs,
  });
  for (const hook of subscriptions.writeHooks()) store.addWriteHook(hook);
  await subscriptions.storeTopics();

  const app = Fastify({
    logger,
    bodyLimit: config.bodyLimit,
    // A request arriving while we close gets our own 503 OperationOutcome (the onRequest hook below).
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    frameworkErrors: badUrl,
    clientErrorHandler: malformedHttp,
    logController: new AccessLog(),
  });
  // After a burst of writes (an import), the planner's statistics are refreshed once it is over.
  const plannerStatistics = new PlannerStatistics(db, app.log);
  store.addWriteHook(plannerStatistics.writeHook());
  // Last on the write path: a change is audited once every rule has let it through.
  const audit = new AuditLog(store, app.log);
  store.addWriteHook(audit.writeHook());
  auth.audit = audit;
  audit.start();
  // close() only ends idle connections: the keep-alive connection of a request in flight would hold
  // the shutdown open until its idle timeout, so a response sent while closing ends its connection.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // $export jobs: run by whichever process claims them; status and files are served from PostgreSQL.
  const bulkExport = new BulkExportRunner({ db, search, log: app.log });
  app.addHook('onClose', async () => {
    await bulkExport.stop();
    plannerStatistics.stop();
    await subscriptions.stop();
    await scheduling.stop();
    await audit.stop();
    await search.stop();
    await auth.stop();
  });
  // Callback hooks, not async ones: they run on every request and wait for nothing.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) return done();
    const outcome = errors.unavailable('The server is shutting down; retry on another instance').toOperationOutcome();
    void reply.code(503).header('retry-after', '1').type('application/fhir+json; charset=utf-8').send(JSON.stringify(outcome));
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = await db.isReady();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'database unavailable' });
  });
  await subscriptions.registerRoutes(app);
  await app.register(fhirHttp, {
    prefix: '/fhir',
    store,
    search,
    auth,
    audit,
    fhirBaseUrl,
    bodyLimit: config.bodyLimit,
    spoolThreshold: config.bundleSpoolThreshold,
    spoolDir: config.bundleSpoolDir,
    rateLimitPerMinute: config.rateLimitPerMinute,
  });
  bulkExportHttp(app, { db, auth, fhirBaseUrl });
  await app.register(adminUsersHttp, { auth });
  await app.register(smartAuthHttp, { auth, config, fhirBaseUrl, checkScopeQuery: (type, query) => search.checkCriteria(db, type, query) });
  app.setNotFoundHandler((request, reply) => {
    const error = errors.unknownRoute(request.method, request.url);
    return reply.code(404).type('application/fhir+json; charset=utf-8').send(JSON.stringify(error.toOperationOutcome()));
  });
  // Frees the holds that expired while no process ran, then sweeps on a timer (stopped on close).
  await scheduling.start();
  await subscriptions.start(app.log);
  bulkExport.start();
  return { app, store, search, auth };
}
