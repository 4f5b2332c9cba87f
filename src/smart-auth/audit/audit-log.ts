import { randomUUID } from 'node:crypto';
import type { AuditEvent } from '@medplum/fhirtypes';
import type { FastifyBaseLogger } from 'fastify';
import type { BatchedTransaction, Store, WriteHook } from '../../store/index.js';
import { interactionEvent } from './audit-event.js';

const BATCH_SIZE = 200;
const FLUSH_MS = 200;

/**
 * AuditEvents, stored as FHIR resources through the one write path (searchable by admins).
 * A change is audited inside its own transaction (the write hook), so the two commit or vanish
 * together. What changes nothing (reads, searches, refused requests, authentication) is recorded
 * after the fact, in batches, off the request's path.
 */
export class AuditLog {
  private queue: AuditEvent[] = [];
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly log: Pick<FastifyBaseLogger, 'error'>,
  ) {}

  private write(event: AuditEvent, tx?: BatchedTransaction) {
    return this.store.write({ operation: 'create', resourceType: 'AuditEvent', id: randomUUID(), freshId: true, trusted: true, next: () => event }, tx);
  }

  /** Audits each change made on a requester's behalf, in the change's transaction. */
  writeHook(): WriteHook {
    return {
      name: 'audit',
      afterWrite: async (tx, change) => {
        if (change.resourceType === 'AuditEvent' || !change.access) return;
        const status = change.operation === 'create' ? 201 : 200;
        await this.write(
          interactionEvent({ interaction: change.operation, requester: { access: change.access }, status, reference: `${change.resourceType}/${change.id}` }),
          tx,
        );
      },
    };
  }

  /** Records an event soon, in the background. */
  record(event: AuditEvent): void {
    this.queue.push(event);
    if (this.queue.length >= BATCH_SIZE) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** Writes what is queued, in one transaction; a failure is logged, never thrown at a request. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue.splice(0);
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.then(() =>
      this.store
        .transaction(async (tx) => {
          for (const event of batch) await this.write(event, tx);
        })
        .catch((error: unknown) => this.log.error({ err: error, events: batch.length }, 'audit events could not be written')),
    );
    return this.flushing;
  }
}
