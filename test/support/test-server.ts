import type { FastifyInstance, InjectOptions } from 'fastify';
import { configFromEnv, type Config } from '../../src/config.js';
import { buildServer } from '../../src/server.js';
import type { SmartAuth } from '../../src/smart-auth/index.js';
import { Database, type Store } from '../../src/store/index.js';
import { createTestDatabase } from './test-database.js';

export const TEST_BASE_URL = 'http://fhir.test';
export const FHIR_BASE = `${TEST_BASE_URL}/fhir`;

export interface TestServer {
  app: FastifyInstance;
  store: Store;
  auth: SmartAuth;
  /** A token of the server's own keys with `system/*.* admin`: what `fhirRequest` sends unless told otherwise. */
  adminToken: string;
  db: Database;
  config: Config;
  close(): Promise<void>;
}

/** The whole server, in process, on a database of its own; requests go through `fastify.inject`. */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const database = await createTestDatabase();
  // No rate limit unless a test asks for one: some tests make thousands of requests as one client.
  const config = configFromEnv({ BASE_URL: TEST_BASE_URL, LOG_LEVEL: 'silent', RATE_LIMIT_PER_MINUTE: '0', SEARCH_COUNT_TIMEOUT_MS: '0', ...env });
  const db = new Database(database.url, 10);
  const { app, store, auth } = await buildServer(config, db, false);
  await app.ready();
  const adminToken = await auth.tokens.issue({ sub: 'test-admin', client_id: 'test-admin', scope: 'system/*.* admin' });
  defaultTokens.set(app, adminToken);
  return {
    app,
    store,
    auth,
    adminToken,
    db,
    config,
    close: async () => {
      await app.close();
      await db.close();
      await database.drop();
    },
  };
}

export interface FhirTestResponse {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read FHIR JSON freely
  body: any;
  text: string;
}

/** The token each test server's requests carry by default. */
const defaultTokens = new WeakMap<FastifyInstance, string>();

/**
 * One request to the in-process server; the body is parsed as JSON when there is one. It carries the
 * server's admin token unless `headers` has an `authorization` of its own (an empty one sends none).
 */
export async function fhirRequest(
  app: FastifyInstance,
  method: InjectOptions['method'],
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<FhirTestResponse> {
  const hasBody = body !== undefined;
  const token = defaultTokens.get(app);
  const authorization = 'authorization' in headers ? headers.authorization : token && `Bearer ${token}`;
  const { authorization: _given, ...otherHeaders } = headers;
  const response = await app.inject({
    method,
    url,
    headers: {
      ...(hasBody && typeof body !== 'string' ? { 'content-type': 'application/fhir+json' } : {}),
      ...(authorization ? { authorization } : {}),
      ...otherHeaders,
    },
    payload: hasBody ? (typeof body === 'string' ? body : JSON.stringify(body)) : undefined,
  });
  const text = response.body;
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.statusCode, headers: response.headers, body: parsed, text };
}
