import { errors } from '../../errors.js';
import type { SearchEngine } from '../../search/index.js';
import type { Database, Store, WriteHook } from '../../store/index.js';
import { appointmentHook } from './appointment-hook.js';
import { appointmentResponseHook } from './appointment-response-hook.js';
import { availabilityHook } from './availability-hook.js';
import type { SchedulingDeps, SchedulingSettings } from './context.js';
import { HoldWorker } from './hold-worker.js';

export interface SchedulingOptions extends SchedulingSettings {
  log?: { warn(object: object, message: string): void };
}

/**
 * The operations are entries of a static registry (src/fhir/operations) and receive only the
 * interaction context; they find the scheduling of their server through its store.
 */
const byStore = new WeakMap<Store, Scheduling>();

/**
 * Practitioner availability and appointment booking: the write hooks that enforce the rules on
 * every write, the hold sweeper, and the settings the operations use. One per server.
 */
export class Scheduling {
  readonly deps: SchedulingDeps;
  private readonly worker: HoldWorker;

  constructor(
    store: Store,
    search: SearchEngine,
    baseUrl: string,
    db: Database,
    readonly settings: SchedulingOptions,
  ) {
    this.deps = { store, search, baseUrl };
    this.worker = new HoldWorker(this.deps, db, settings.holdSweepMs, settings.log);
    byStore.set(store, this);
  }

  static of(store: Store): Scheduling {
    const scheduling = byStore.get(store);
    if (!scheduling) throw errors.internal('Scheduling is not set up for this server');
    return scheduling;
  }

  /** In this order, after validation and access: availability ownership, booking, participants' answers. */
  writeHooks(): WriteHook[] {
    return [availabilityHook(this.deps), appointmentHook(this.deps), appointmentResponseHook(this.deps)];
  }

  /** Frees the holds that expired while no server ran, then keeps sweeping. */
  start(): Promise<void> {
    return this.worker.start();
  }

  /** A sweep for expired holds now (tests; the timer does it anyway). */
  sweepHolds(): Promise<number> {
    return this.worker.kick();
  }

  stop(): Promise<void> {
    return this.worker.stop();
  }
}
