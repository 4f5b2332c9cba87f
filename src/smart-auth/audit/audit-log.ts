import type { AuditEvent } from '@medplum/fhirtypes';
import type { FastifyBaseLogger } from 'fastify';
import { newResourceId, type BatchedTransaction, type Change, type Store, type WriteHook } from '../../store/index.js';
import { INTERACTION_SYSTEM, interactionEvent } from './audit-event.js';

/** Queued events start a write at once when this many are waiting; fewer wait up to FLUSH_MS for company. */
const BATCH_SIZE = 200;
const FLUSH_MS = 200;
/** One transaction writes at most this many: a backlog is written in large batches, which cost less per event. */
const MAX_BATCH = 2000;
/** Entities one merged record names at most (see mergeAlike): a record stays a few kilobytes. */
const MAX_ENTITIES = 200;

/**
 * AuditEvents, stored as FHIR resources through the one write path (searchable by admins).
 * A change is audited inside its own transaction (the write hook), so the two commit or vanish
 * together. What changes nothing (reads, searches, refused requests, authentication) is recorded
 * after the fact, in batches, off the request's path.
 */
export class AuditLog {
  private queue: AuditEvent[] = [];
  private timer?: NodeJS.Timeout;
  /** The one write in progress: events that arrive meanwhile wait for it and go in the next batch. */
  private draining?: Promise<void>;

  constructor(
    private readonly store: Store,
    private readonly log: Pick<FastifyBaseLogger, 'error'>,
  ) {}

  private write(event: AuditEvent, tx?: BatchedTransaction) {
    return this.store.write({ operation: 'create', resourceType: 'AuditEvent', id: newResourceId(), freshId: true, trusted: true, next: () => event }, tx);
  }

  /**
   * Audits the changes made on a requester's behalf in the changes' own transaction, as it ends:
   * one AuditEvent per kind of change (create, update, patch, delete) and requester, naming every
   * resource changed, so a transaction Bundle of 200 creates is one record, not 200.
   */
  writeHook(): WriteHook {
    return {
      name: 'audit',
      afterWrite: async (tx, change) => {
        if (change.resourceType === 'AuditEvent' || !change.access) return;
        this.changesOf(tx).push(change);
      },
    };
  }

  private readonly changesByTransaction = new WeakMap<BatchedTransaction, Change[]>();

  private changesOf(tx: BatchedTransaction): Change[] {
    const known = this.changesByTransaction.get(tx);
    if (known) return known;
    const changes: Change[] = [];
    this.changesByTransaction.set(tx, changes);
    tx.beforeCommit(() => this.auditChanges(tx, changes));
    return changes;
  }

  private async auditChanges(tx: BatchedTransaction, changes: Change[]): Promise<void> {
    const groups = new Map<string, { change: Change; references: string[] }>();
    const requesterNumbers = new Map<unknown, number>();
    for (const change of changes) {
      if (!requesterNumbers.has(change.access)) requesterNumbers.set(change.access, requesterNumbers.size);
      const key = `${change.operation} ${requesterNumbers.get(change.access)}`;
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { change, references: [] }));
      group.references.push(`${change.resourceType}/${change.id}`);
    }
    for (const { change, references } of groups.values()) {
      const status = change.operation === 'create' ? 201 : 200;
      await this.write(interactionEvent({ interaction: change.operation, requester: { access: change.access }, status, references }), tx);
    }
  }

  /** Records an event soon, in the background. */
  record(event: AuditEvent): void {
    this.queue.push(event);
    if (this.draining) return;
    if (this.queue.length >= BATCH_SIZE) void this.startDrain();
    else this.timer ??= setTimeout(() => void this.startDrain(), FLUSH_MS);
  }

  /** Writes everything queued (at shutdown; in tests); resolves when the queue is empty. */
  async flush(): Promise<void> {
    while (this.draining || this.queue.length > 0) await (this.draining ?? this.startDrain());
  }

  /**
   * Writes what is queued, batch after batch, one transaction at a time (so a backlog never means
   * many transactions competing, nor many batches held in memory), while a batch's worth waits.
   * Fewer, which arrived during the last write, wait FLUSH_MS for company: under a steady stream
   * of reads, a write per handful of events would cost more than the reads. A failure is logged,
   * never thrown at a request.
   */
  private startDrain(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
      if (this.queue.length > 0) this.timer ??= setTimeout(() => void this.startDrain(), FLUSH_MS);
    });
    return this.draining;
  }

  private async drain(): Promise<void> {
    do {
      const batch = mergeAlike(this.queue.splice(0, MAX_BATCH));
      await this.store
        .transaction(async (tx) => {
          for (const event of batch) await this.write(event, tx);
        })
        .catch((error: unknown) => this.log.error({ err: error, events: batch.length }, 'audit events could not be written'));
    } while (this.queue.length >= BATCH_SIZE);
  }
}

/**
 * The records of FHIR interactions in one batch that differ only in what they concern and when,
 * merged into one per requester, interaction and outcome: it names every entity and its `period`
 * spans the first and last of them. A read's record would otherwise cost more than the read (a
 * resource and its index rows each); the merged one is still found by `entity`, `patient`, `agent`
 * and `date`. Authentication events (logins, tokens) stay one record each.
 */
export function mergeAlike(events: AuditEvent[]): AuditEvent[] {
  const merged: AuditEvent[] = [];
  const open = new Map<string, AuditEvent>();
  for (const event of events) {
    const key = JSON.stringify([event.type, event.subtype, event.action, event.outcome, event.outcomeDesc, event.agent, event.source]);
    const target = open.get(key);
    const entities = event.entity ?? [];
    if (target && (target.entity?.length ?? 0) + entities.length <= MAX_ENTITIES) {
      (target.entity ??= []).push(...entities);
      target.period = { start: target.period?.start ?? target.recorded, end: event.recorded };
      target.recorded = event.recorded;
      continue;
    }
    const copy: AuditEvent = { ...event, ...(event.entity ? { entity: [...event.entity] } : {}) };
    merged.push(copy);
    if (isInteraction(event) && !event.period) open.set(key, copy);
  }
  return merged;
}

function isInteraction(event: AuditEvent): boolean {
  return event.subtype?.[0]?.system === INTERACTION_SYSTEM;
}
