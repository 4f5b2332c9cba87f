import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * The headless browser of the end-to-end tests: Debian's `chromium` package driven by
 * `playwright-core` (`npx playwright install` cannot download browsers here). A machine without it
 * (a fresh CI runner) gets it from apt; a machine where that fails fails the test with the reason,
 * never skips it.
 */
export const CHROMIUM = '/usr/bin/chromium';

const INSTALL_TIMEOUT_MS = 15 * 60_000;

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-quic',
  '--disable-sync',
];

/** apt-get as root, or through `sudo -n` (no password prompt) for another user. */
function aptGet(args: string[]): void {
  const isRoot = process.getuid?.() === 0;
  const [command, commandArgs] = isRoot ? ['apt-get', args] : ['sudo', ['-n', 'apt-get', ...args]];
  execFileSync(command, commandArgs, {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: INSTALL_TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

function failureText(error: unknown): string {
  const failed = error as { message?: string; stderr?: Buffer | string };
  const stderr = failed.stderr ? String(failed.stderr).trim().split('\n').slice(-20).join('\n') : '';
  return `${failed.message ?? String(error)}${stderr ? `\n${stderr}` : ''}`;
}

/**
 * Makes sure `/usr/bin/chromium` exists: `apt-get install -y chromium`, and when that fails
 * `apt-get update` and the install once more. Synchronous (call it first in a `beforeAll` with a
 * long timeout); throws with apt's own words when the browser cannot be installed.
 */
export function ensureChromium(): string {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  const attempts: string[] = [];
  try {
    aptGet(['install', '-y', 'chromium']);
  } catch (error) {
    attempts.push(`apt-get install -y chromium: ${failureText(error)}`);
    try {
      aptGet(['update']);
      aptGet(['install', '-y', 'chromium']);
    } catch (retryError) {
      attempts.push(`apt-get update && apt-get install -y chromium: ${failureText(retryError)}`);
    }
  }
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The end-to-end browser tests need Debian's chromium at ${CHROMIUM}, which is missing and could not be installed ` +
        `(run \`apt-get install -y chromium\` as root):\n${attempts.join('\n\n')}`,
    );
  }
  return CHROMIUM;
}

/** A headless Chromium with a fresh profile (playwright-core gives each launch its own temporary user data dir). */
export async function launchChromium(): Promise<Browser> {
  const executablePath = ensureChromium();
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}
