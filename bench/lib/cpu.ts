import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time (user + system) from /proc: what a request costs in CPU, which on a shared machine
 * drifts far less than throughput does from one day to the next.
 */

/** /proc counts CPU time in USER_HZ ticks, which Linux fixes at 100 per second for user space. */
const TICKS_PER_SECOND = 100;

/**
 * utime + stime of one process, in milliseconds; 0 once it is gone. `withReaped`: also the time of
 * its children that ended (cutime + cstime), as PostgreSQL's postmaster has of its backends.
 */
function processCpuMs(pid: number | string, withReaped = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces: the fields after it start after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]) + (withReaped ? Number(fields[13]) + Number(fields[14]) : 0);
    return (ticks * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

function commandName(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/**
 * CPU of every PostgreSQL process on the machine: the database's backends and background workers,
 * and those that ended (the pools replace their connections now and then).
 */
function postgresCpuMs(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (/^\d+$/.test(entry) && commandName(entry).startsWith('postgres')) total += processCpuMs(entry, true);
  }
  return total;
}

export interface CpuPerRequest {
  /** Milliseconds of CPU per answered request: the measured service's process. */
  serviceMs: number;
  /** The same for PostgreSQL's processes. */
  postgresMs: number;
}

/** Started before a measurement; `perRequest` after it. */
export class CpuMeter {
  private readonly service: number;
  private readonly postgres: number;

  constructor(private readonly pid: number) {
    this.service = processCpuMs(pid);
    this.postgres = postgresCpuMs();
  }

  perRequest(requests: number): CpuPerRequest | undefined {
    if (requests === 0) return undefined;
    return { serviceMs: (processCpuMs(this.pid) - this.service) / requests, postgresMs: (postgresCpuMs() - this.postgres) / requests };
  }
}
