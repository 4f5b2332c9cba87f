import type { Appointment } from '@medplum/fhirtypes';
import type { BatchedTransaction, Database } from '../../store/index.js';
import { readResource, type SchedulingDeps } from './context.js';
import { claimExpiredHold, holdExpiry, releaseHold } from './holds.js';

export const HOLD_EXPIRED_REASON = 'The hold expired before the appointment was booked';

interface Logger {
  warn(object: object, message: string): void;
}

/**
 * Cancels one expired hold, as the server, through the write path (the booking hook then frees its
 * slots and removes the hold row). The caller holds the hold row and the appointment's lock.
 */
async function expireHold(deps: SchedulingDeps, tx: BatchedTransaction, id: string): Promise<boolean> {
  const appointment = await readResource<Appointment>(deps, tx, 'Appointment', id);
  if (appointment?.status !== 'pending') {
    releaseHold(tx, id);
    return false;
  }
  const expiry = await holdExpiry(tx, id);
  if (!expiry || expiry.getTime() > Date.now()) return false;
  await deps.store.write(
    {
      operation: 'update',
      resourceType: 'Appointment',
      id,
      next: (current) => ({ ...(current as Appointment), status: 'cancelled', cancelationReason: { text: HOLD_EXPIRED_REASON } }),
    },
    tx,
  );
  return true;
}

/**
 * Frees expired holds without any request arriving: every server process runs one, on a timer and
 * once at start-up (holds that expired while no process ran). Each hold is claimed with
 * `FOR UPDATE SKIP LOCKED`, so processes share the work without doing any of it twice, and its
 * appointment is taken only if nobody is writing it right now (a `$book` in flight wins; the next
 * sweep sees what it became). One transaction per hold: a failure leaves the others unaffected.
 */
export class HoldWorker {
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;
  private stopped = false;

  constructor(
    private readonly deps: SchedulingDeps,
    private readonly db: Database,
    private readonly intervalMs: number,
    private readonly log?: Logger,
  ) {}

  /** Sweeps once (holds that expired while the server was down), then on every interval. */
  async start(): Promise<void> {
    await this.kick();
    this.timer = setInterval(() => void this.kick(), this.intervalMs);
    this.timer.unref();
  }

  /** A sweep now, unless one is running (then that one). Resolves to the number of holds freed. */
  kick(): Promise<number> {
    if (this.stopped) return Promise.resolve(0);
    this.running ??= this.sweep().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** No more sweeps; waits for the one in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  private async sweep(): Promise<number> {
    const skipped: string[] = [];
    let freed = 0;
    while (!this.stopped) {
      let claimed: string | undefined;
      try {
        const outcome = await this.db.transaction(async (tx) => {
          claimed = await claimExpiredHold(tx, skipped);
          if (!claimed) return 'none';
          if (!(await this.deps.store.tryLock(tx, 'Appointment', claimed))) return 'busy';
          return (await expireHold(this.deps, tx, claimed)) ? 'freed' : 'released';
        });
        if (outcome === 'none') break;
        if (outcome === 'freed') freed++;
        if (outcome === 'busy' && claimed) skipped.push(claimed);
      } catch (error) {
        if (!claimed) {
          this.log?.warn({ err: error }, 'looking for expired appointment holds failed');
          break;
        }
        this.log?.warn({ err: error, appointment: claimed }, 'freeing an expired appointment hold failed; retried on the next sweep');
        skipped.push(claimed);
      }
    }
    return freed;
  }
}
