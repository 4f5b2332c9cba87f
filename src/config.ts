import { existsSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';

/** The server's configuration, from the environment (CONTRACT.md); a `.env` file may set the same names. */
export interface Config {
  port: number;
  host: string;
  baseUrl: string;
  databaseUrl?: string;
  dataDir: string;
  logLevel: string;
  bodyLimit: number;
  /** A batch or transaction body larger than this is kept in a temporary file while it is processed, not in memory. */
  bundleSpoolThreshold: number;
  /** Where those temporary files go. */
  bundleSpoolDir: string;
  /** `$reindex` of up to this many resources is done within the request; more become a background job. */
  reindexInlineLimit: number;
  /** A search total not counted within this many milliseconds is left out of the Bundle (unless `_total=accurate`); 0: no limit. */
  searchCountTimeoutMs: number;
  /** The bootstrap confidential client (CONTRACT.md), when both are set. */
  adminClientId?: string;
  adminClientSecret?: string;
  /** FHIR API requests per minute per client; 0 turns the limit off. */
  rateLimitPerMinute: number;
  /** Rest-hook endpoints and client jwks_uris may be loopback or private addresses (tests, development). */
  allowPrivateCallbacks: boolean;
  /** How long `Appointment/$hold` holds slots, in seconds. */
  appointmentHoldSeconds: number;
  /** How often each process frees expired holds, in milliseconds. */
  appointmentHoldSweepMs: number;
  /** Failed rest-hook deliveries of one notification before its Subscription's status becomes `error`. */
  subscriptionMaxAttempts: number;
  /** The first retry delay of a failed rest-hook delivery; each later one doubles it. */
  subscriptionRetryBaseMs: number;
}

export function loadDotEnv(path = '.env'): void {
  if (!existsSync(path)) return;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (match && process.env[match[1]] === undefined) process.env[match[1]] = match[2].replace(/^(['"])(.*)\1$/, '$2');
  }
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  const port = Number(env.PORT ?? 8080);
  return {
    port,
    host: env.HOST ?? '0.0.0.0',
    baseUrl: (env.BASE_URL ?? `http://localhost:${port}`).replace(/\/+$/, ''),
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.DATA_DIR ?? './.data',
    logLevel: env.LOG_LEVEL ?? 'info',
    bodyLimit: parseByteSize(env.BODY_LIMIT ?? '64mb'),
    bundleSpoolThreshold: parseByteSize(env.BUNDLE_SPOOL_THRESHOLD ?? '4mb'),
    bundleSpoolDir: directory('BUNDLE_SPOOL_DIR', env.BUNDLE_SPOOL_DIR || tmpdir()),
    reindexInlineLimit: Number(env.REINDEX_INLINE_LIMIT ?? 1000),
    searchCountTimeoutMs: milliseconds('SEARCH_COUNT_TIMEOUT_MS', env.SEARCH_COUNT_TIMEOUT_MS ?? '100'),
    adminClientId: env.ADMIN_CLIENT_ID || undefined,
    adminClientSecret: env.ADMIN_CLIENT_SECRET || undefined,
    rateLimitPerMinute: Number(env.RATE_LIMIT_PER_MINUTE ?? 10000),
    allowPrivateCallbacks: env.ALLOW_PRIVATE_CALLBACKS === 'true',
    appointmentHoldSeconds: Number(env.APPOINTMENT_HOLD_SECONDS ?? 300),
    appointmentHoldSweepMs: Number(env.APPOINTMENT_HOLD_SWEEP_MS ?? 1000),
    subscriptionMaxAttempts: Math.max(1, Number(env.SUBSCRIPTION_MAX_ATTEMPTS ?? 5)),
    subscriptionRetryBaseMs: Math.max(0, Number(env.SUBSCRIPTION_RETRY_BASE_MS ?? 1000)),
  };
}

/** A duration in whole milliseconds, 0 or more; anything else stops the start with the variable's name. */
/** A directory that exists: checked at start, not when the first large Bundle would need it (a 500 then). */
function directory(name: string, value: string): string {
  if (!statSync(value, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`Invalid ${name} "${value}": not an existing directory`);
  return value;
}

function milliseconds(name: string, value: string): number {
  if (!/^\s*\d+\s*$/.test(value)) throw new Error(`Invalid ${name} "${value}": expected a number of milliseconds`);
  return Number(value);
}

/** "64mb", "512kb", "1gb" or a plain number of bytes. */
export function parseByteSize(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(value);
  if (!match) throw new Error(`Invalid byte size "${value}"`);
  const unit = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(match[2] ?? 'b').toLowerCase() as 'b'];
  return Math.floor(Number(match[1]) * unit);
}
