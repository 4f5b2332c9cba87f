import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: test/e2e/support -> ../../.. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const MAIN_JS = path.join(PROJECT_ROOT, 'dist/src/main.js');

const TSC = path.join(PROJECT_ROOT, 'node_modules/typescript/bin/tsc');
const BUILD_LOCK = path.join(PROJECT_ROOT, 'dist/.e2e-build.lock');
const BUILD_TIMEOUT_MS = 110_000;

/** Configuration names of the server (CONTRACT.md): a child never inherits them from the test's environment. */
const SERVER_ENV_NAMES = [
  'PORT',
  'HOST',
  'BASE_URL',
  'DATABASE_URL',
  'DATA_DIR',
  'ADMIN_CLIENT_ID',
  'ADMIN_CLIENT_SECRET',
  'LOG_LEVEL',
  'BODY_LIMIT',
  'RATE_LIMIT_PER_MINUTE',
  'ALLOW_PRIVATE_CALLBACKS',
  'SUBSCRIPTION_MAX_ATTEMPTS',
  'SUBSCRIPTION_RETRY_BASE_MS',
  'NODE_OPTIONS',
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Several test files (processes) may build at once; tsc writing the same files twice at the same
 * time could let a server load a half-written module. A lock file holding the builder's pid
 * serialises them; a lock whose process is gone is stale and taken over.
 */
async function withBuildLock<T>(work: () => Promise<T>): Promise<T> {
  await mkdir(path.dirname(BUILD_LOCK), { recursive: true });
  const deadline = Date.now() + BUILD_TIMEOUT_MS;
  for (;;) {
    try {
      await writeFile(BUILD_LOCK, String(process.pid), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(await readFile(BUILD_LOCK, 'utf8').catch(() => ''));
      const age = await stat(BUILD_LOCK).then((s) => Date.now() - s.mtimeMs, () => 0);
      // An empty file is a lock being written this instant, unless it stays empty.
      const stale = owner > 0 ? !isAlive(owner) : age > 5_000;
      if (stale) await rm(BUILD_LOCK, { force: true });
      else if (Date.now() > deadline) throw new Error(`build lock ${BUILD_LOCK} held by process ${owner} for too long`);
      else await sleep(100);
    }
  }
  try {
    return await work();
  } finally {
    await rm(BUILD_LOCK, { force: true });
  }
}

function runTsc(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), BUILD_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

let built: Promise<void> | undefined;

/**
 * `tsc -p tsconfig.json` into dist/, once per test process (incremental: fast when nothing changed).
 * Call it in a `beforeAll`. Type errors do not stop tsc from emitting; they are the type check's
 * business, so they are reported but only a missing dist/src/main.js fails the tests.
 */
export function buildOnce(): Promise<void> {
  built ??= withBuildLock(async () => {
    const { code, output } = await runTsc();
    if (code !== 0) {
      if (!existsSync(MAIN_JS)) throw new Error(`tsc failed (exit ${code}) and produced no ${MAIN_JS}:\n${output}`);
      console.warn(`tsc exited with ${code}; running the emitted dist/ anyway:\n${output.slice(0, 4000)}`);
    }
  });
  return built;
}

/** A TCP port that was free a moment ago, on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  baseUrl: string;
  port: number;
  process: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<ExitInfo>;
  /** What the process wrote to stdout and stderr so far (the last 256 kB). */
  output(): string;
  /** SIGTERM, then waits for the exit (SIGKILL after `timeoutMs`, and then it throws). */
  stop(timeoutMs?: number): Promise<ExitInfo>;
}

export interface StartOptions {
  /** `DATABASE_URL`; leave it out to run the embedded PostgreSQL (then give `DATA_DIR` in `env`). */
  databaseUrl?: string;
  /** More environment for the server (wins over the defaults, e.g. `LOG_LEVEL`). */
  env?: Record<string, string>;
  /** How long to wait for `/readyz` to answer 200. */
  readyTimeoutMs?: number;
}

const running = new Set<ServerProcess>();
const OUTPUT_LIMIT = 256 * 1024;

/** Polls `/readyz` until 200; fails as soon as the process exits. */
async function waitUntilReady(server: ServerProcess, timeoutMs: number): Promise<void> {
  let exit: ExitInfo | undefined;
  void server.exited.then((info) => (exit = info));
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (exit) throw new Error(`server exited (code ${exit.code}, signal ${exit.signal}) before it was ready:\n${server.output()}`);
    try {
      const response = await fetch(`${server.baseUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
      last = `${response.status} ${await response.text()}`;
      if (response.status === 200) return;
    } catch (error) {
      last = String((error as Error).cause ?? error);
    }
    await sleep(100);
  }
  throw new Error(`server not ready after ${timeoutMs} ms (last /readyz: ${last}):\n${server.output()}`);
}

/**
 * Starts `node dist/src/main.js` on a free port of 127.0.0.1 and waits until `/readyz` is 200.
 * It runs in a temporary working directory, so a developer's `.env` cannot reach it.
 */
export async function startServerProcess(options: StartOptions = {}): Promise<ServerProcess> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of SERVER_ENV_NAMES) delete env[name];
  Object.assign(env, {
    PORT: String(port),
    HOST: '127.0.0.1',
    BASE_URL: baseUrl,
    LOG_LEVEL: 'warn',
    ADMIN_CLIENT_ID: E2E_CLIENT_ID,
    ADMIN_CLIENT_SECRET: E2E_CLIENT_SECRET,
    RATE_LIMIT_PER_MINUTE: '0',
    ALLOW_PRIVATE_CALLBACKS: 'true',
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
    ...options.env,
  });
  const cwd = await mkdtemp(path.join(tmpdir(), 'fhir-e2e-cwd-'));
  const child = spawn(process.execPath, [MAIN_JS], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });

  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT);
  };
  // Always drained: a child blocked on a full pipe would never exit.
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);

  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => {
      collect(Buffer.from(`spawn error: ${error.message}\n`));
      resolve({ code: null, signal: null });
    });
  });
  void exited.then(() => rm(cwd, { recursive: true, force: true }));

  const server: ServerProcess = {
    baseUrl,
    port,
    process: child,
    exited,
    output: () => output,
    stop: async (timeoutMs = 20_000) => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timedOut = Symbol('timeout');
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([exited, new Promise<symbol>((resolve) => (timer = setTimeout(() => resolve(timedOut), timeoutMs)))]);
      clearTimeout(timer);
      running.delete(server);
      if (result === timedOut) {
        child.kill('SIGKILL');
        await exited;
        throw new Error(`server did not exit within ${timeoutMs} ms of SIGTERM:\n${output}`);
      }
      return result as ExitInfo;
    },
  };
  running.add(server);
  try {
    await waitUntilReady(server, options.readyTimeoutMs ?? 60_000);
  } catch (error) {
    await server.stop(5_000).catch(() => undefined);
    throw error;
  }
  return server;
}

/** For `afterAll`: stops every server this test file started and did not stop (a failed test leaves none behind). */
export async function stopAllServerProcesses(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop(10_000).catch(() => undefined)));
}

/** Reads a response body as JSON when it is JSON. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read FHIR JSON freely
export async function jsonBody(response: Response): Promise<any> {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

export interface HttpResult {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read FHIR JSON freely
  body: any;
}

/** The admin client every test process is started with (CONTRACT.md: ADMIN_CLIENT_ID / ADMIN_CLIENT_SECRET). */
export const E2E_CLIENT_ID = 'e2e-admin';
export const E2E_CLIENT_SECRET = 'e2e-admin-secret-0123456789';

const tokens = new Map<string, string>();

/** An access token for the process at `baseUrl` (`system/*.* admin`, client_credentials), fetched once. */
export async function adminToken(baseUrl: string): Promise<string> {
  const cached = tokens.get(baseUrl);
  if (cached) return cached;
  const response = await fetch(`${baseUrl}/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${E2E_CLIENT_ID}:${E2E_CLIENT_SECRET}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/*.* admin' }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as { access_token?: string };
  if (!response.ok || !body.access_token) throw new Error(`no admin token from ${baseUrl}: ${response.status} ${JSON.stringify(body)}`);
  tokens.set(baseUrl, body.access_token);
  return body.access_token;
}

/** One FHIR request with `fetch`: JSON in (as application/fhir+json), JSON out; bounded in time. */
export async function fhirFetch(
  baseUrl: string,
  method: string,
  pathAndQuery: string,
  body?: unknown,
  headers: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<HttpResult> {
  const relative = pathAndQuery.replace(/^\//, '');
  // As the admin client, unless the caller brings an Authorization of its own.
  const authorization = 'authorization' in headers ? headers.authorization : `Bearer ${await adminToken(baseUrl)}`;
  const response = await fetch(relative ? `${baseUrl}/fhir/${relative}` : `${baseUrl}/fhir`, {
    method,
    headers: {
      accept: 'application/fhir+json',
      ...(body === undefined ? {} : { 'content-type': 'application/fhir+json' }),
      ...headers,
      ...(authorization ? { authorization } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: response.status, headers: response.headers, body: await jsonBody(response) };
}
