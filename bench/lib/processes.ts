import type { ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { spawnTracked, stopChild } from './children.js';
import { freePort, sleep } from './net.js';
import { PROJECT_ROOT, RESULTS_DIR } from './paths.js';

export const SERVER_MAIN = path.join(PROJECT_ROOT, 'dist/src/main.js');
export const BASELINE_MAIN = path.join(PROJECT_ROOT, 'dist-bench/baseline-server.js');

/** `tsc -p tsconfig.json` (the server) into dist/, as `npm start` does. */
export async function buildServer(): Promise<void> {
  const tsc = path.join(PROJECT_ROOT, 'node_modules/typescript/bin/tsc');
  const child = spawnTracked(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  if (code !== 0) {
    if (!existsSync(SERVER_MAIN)) throw new Error(`tsc failed (exit ${code}):\n${output}`);
    process.stderr.write(`warning: tsc exited with ${code}; running the emitted dist/ anyway:\n${output.slice(0, 3000)}\n`);
  }
}

/** A process serving HTTP on 127.0.0.1, with its peak memory watched. */
export interface ServiceHandle {
  name: string;
  origin: string;
  pid: number;
  logFile: string;
  /** Highest resident set size seen since the last `resetPeakRss`, in MB. */
  peakRssMb(): number;
  resetPeakRss(): void;
  stop(): Promise<void>;
}

export interface StartOptions {
  name: string;
  script: string;
  /** Its environment on top of ours; a function of its origin (`http://127.0.0.1:<port>`) for BASE_URL. */
  env: NodeJS.ProcessEnv | ((origin: string) => NodeJS.ProcessEnv);
  /** Answers 200 when the service is ready. */
  readyPath: string;
  timeoutMs?: number;
  nodeArgs?: string[];
}

function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Starts `node <script>` on a free port (PORT, HOST=127.0.0.1) and waits until `readyPath` answers 200. */
export async function startService(options: StartOptions): Promise<ServiceHandle> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  mkdirSync(path.join(RESULTS_DIR, 'logs'), { recursive: true });
  const logFile = path.join(RESULTS_DIR, 'logs', `${options.name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const child: ChildProcess = spawnTracked(process.execPath, [...(options.nodeArgs ?? []), options.script], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...(typeof options.env === 'function' ? options.env(origin) : options.env), PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const pid = child.pid as number;
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 250);
  sampler.unref();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    if (child.exitCode !== null) {
      clearInterval(sampler);
      throw new Error(`${options.name} exited with ${child.exitCode} while starting; see ${logFile}:\n${tail(logFile)}`);
    }
    try {
      const response = await fetch(origin + options.readyPath, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      clearInterval(sampler);
      await stopChild(child, 2_000);
      throw new Error(`${options.name} did not become ready within ${options.timeoutMs ?? 120_000} ms; see ${logFile}:\n${tail(logFile)}`);
    }
    await sleep(200);
  }
  return {
    name: options.name,
    origin,
    pid,
    logFile,
    peakRssMb: () => Math.max(peak, rssMb(pid)),
    resetPeakRss: () => {
      peak = rssMb(pid);
    },
    stop: async () => {
      clearInterval(sampler);
      await stopChild(child);
      await exited;
      log.end();
    },
  };
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export { sleep };
