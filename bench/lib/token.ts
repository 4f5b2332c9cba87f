import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from './paths.js';

/**
 * The bearer token every benchmark request carries, obtained the way a backend service would:
 *   1. BENCH_TOKEN, if set;
 *   2. else `client_credentials` at the server's `/oauth/token` with the admin client, whose id and
 *      secret (ADMIN_CLIENT_ID / ADMIN_CLIENT_SECRET, or ones made up for this run) the benchmark
 *      gives the server it starts (CONTRACT.md: "The admin client");
 *   3. else, while the server has no token endpoint yet, a token signed with the server's own keys
 *      (from its database) through the server's compiled `SmartAuth`, as the test suite does.
 * With none of these the requests go without a token.
 */
export interface TokenSource {
  token?: string;
  how: string;
}

/** The admin client the benchmark's server is started with. */
export const adminClient = {
  id: process.env.ADMIN_CLIENT_ID || 'bench-admin',
  secret: process.env.ADMIN_CLIENT_SECRET || randomBytes(24).toString('base64url'),
};

/** The data set publishes availability (Schedules, Slots), which only an admin or the schedule's owner may do. */
const SCOPE = 'system/*.cruds admin';

export async function obtainToken(origin: string, databaseUrl: string, lifetimeSeconds: number): Promise<TokenSource> {
  if (process.env.BENCH_TOKEN) return { token: process.env.BENCH_TOKEN, how: 'BENCH_TOKEN' };
  let refused = '';
  try {
    return { token: await clientCredentialsToken(`${origin}/fhir`, adminClient.id, adminClient.secret), how: `client_credentials at /oauth/token (${SCOPE})` };
  } catch (error) {
    refused = (error as Error).message;
  }
  const minted = await mintWithServerKeys(origin, databaseUrl, lifetimeSeconds);
  if (minted) return { token: minted, how: "signed with the server's keys (no token from /oauth/token)" };
  process.stderr.write(`warning: requests go without a token: ${refused}\n`);
  return { how: 'none' };
}

interface CompiledSmartAuth {
  start(): Promise<void>;
  stop(): Promise<void>;
  tokens: { issue(claims: { sub: string; client_id: string; scope: string }, seconds?: number): Promise<string> };
}

async function mintWithServerKeys(origin: string, databaseUrl: string, lifetimeSeconds: number): Promise<string | undefined> {
  const authModule = path.join(PROJECT_ROOT, 'dist/src/smart-auth/index.js');
  const storeModule = path.join(PROJECT_ROOT, 'dist/src/store/index.js');
  if (!existsSync(authModule) || !existsSync(storeModule)) return undefined;
  const { SmartAuth } = (await import(pathToFileURL(authModule).href)) as {
    SmartAuth?: new (db: unknown, options: { issuer: string; fhirBaseUrl: string }) => CompiledSmartAuth;
  };
  const { Database } = (await import(pathToFileURL(storeModule).href)) as { Database: new (url: string, max?: number) => { close(): Promise<void> } };
  if (!SmartAuth) return undefined;
  const db = new Database(databaseUrl, 2);
  const auth = new SmartAuth(db, { issuer: origin, fhirBaseUrl: `${origin}/fhir` });
  try {
    await auth.start();
    return await auth.tokens.issue({ sub: 'bench', client_id: adminClient.id, scope: SCOPE }, lifetimeSeconds);
  } finally {
    await auth.stop().catch(() => undefined);
    await db.close();
  }
}

/**
 * A backend service's token (SMART Backend Services with a client secret): `client_credentials`
 * at the token endpoint the server's SMART discovery names (else `<origin>/oauth/token`).
 */
export async function clientCredentialsToken(fhirBaseUrl: string, clientId: string, clientSecret: string, scope = SCOPE): Promise<string> {
  const base = fhirBaseUrl.replace(/\/+$/, '');
  let tokenEndpoint = `${new URL(base).origin}/oauth/token`;
  try {
    const discovery = await fetch(`${base}/.well-known/smart-configuration`, { signal: AbortSignal.timeout(10_000) });
    if (discovery.ok) tokenEndpoint = ((await discovery.json()) as { token_endpoint?: string }).token_endpoint ?? tokenEndpoint;
  } catch {
    // no discovery: the default endpoint
  }
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let body: { access_token?: string; error?: string; error_description?: string } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // not JSON: reported below
  }
  if (!response.ok || !body.access_token) {
    throw new Error(`No token from ${tokenEndpoint}: ${response.status} ${body.error ?? ''} ${body.error_description ?? text.slice(0, 200)}`.trim());
  }
  return body.access_token;
}
