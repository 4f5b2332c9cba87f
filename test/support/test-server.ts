import type { FastifyInstance, InjectOptions } from 'fastify';
import { configFromEnv, type Config } from '../../src/config.js';
import { buildServer } from '../../src/server.js';
import { Database, type Store } from '../../src/store/index.js';
import { createTestDatabase } from './test-database.js';

export const TEST_BASE_URL = 'http://fhir.test';
export const FHIR_BASE = `${TEST_BASE_URL}/fhir`;

export interface TestServer {
  app: FastifyInstance;
  store: Store;
  db: Database;
  config: Config;
  close(): Promise<void>;
}

/** The whole server, in process, on a database of its own; requests go through `fastify.inject`. */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const database = await createTestDatabase();
  const config = configFromEnv({ BASE_URL: TEST_BASE_URL, LOG_LEVEL: 'silent', ...env });
  const db = new Database(database.url, 10);
  const { app, store } = await buildServer(config, db, false);
  await app.ready();
  return {
    app,
    store,
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

/** One request to the in-process server; the body is parsed as JSON when there is one. */
export async function fhirRequest(
  app: FastifyInstance,
  method: InjectOptions['method'],
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<FhirTestResponse> {
  const hasBody = body !== undefined;
  const response = await app.inject({
    method,
    url,
    headers: { ...(hasBody && typeof body !== 'string' ? { 'content-type': 'application/fhir+json' } : {}), ...headers },
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
