import type { AuditEvent, AuditEventEntity } from '@medplum/fhirtypes';
import type { FastifyBaseLogger } from 'fastify';
import { newResourceId, type BatchedTransaction, type Change, type Store, type WriteHook } from '../../store/index.js';
import { INTERACTION_SYSTEM, interactionEvent, queryEntity, referenceEntity, requesterKey, withoutNul, type Interaction } from './audit-event.js';

/**
 * One transaction writes at most this many queued events, and a write starts at once when this
 * many are waiting; fewer wait up to FLUSH_MS for company. Each write is a transaction and each
 * merged record a resource with its index rows, so under a stream of reads larger batches cost
 * less per read: at 6,000 reads/s, batches of 200 were 30 transactions a second, and PostgreSQL
 * spent 0.084 ms per read against 0.078 ms with batches of 2,000.
 */
const MAX_BATCH = 2000;
const FLUSH_MS = 200;
/** How often each process looks for change records left in the outbox (by a process that died before writing them). */
const OUTBOX_SWEEP_MS = 10_000;
/** Entities one record names at most (see ChangeRecords and mergeAlike): a record stays a few kilobytes. */
const MAX_ENTITIES = 200;

/** The records of one transaction's changes being gathered: per kind of change and requester, the resources not yet written in a record. */
class ChangeRecords {
  private readonly open = new Map<string, { operation: Change['operation']; access: Change['access']; references: string[] }>();
  private readonly requesterNumbers = new Map<unknown, number>();

  constructor(private readonly tx: BatchedTransaction) {}

  add(change: Change): void {
    let requester = this.requesterNumbers.get(change.access);
    if (requester === undefined) this.requesterNumbers.set(change.access, (requester = this.requesterNumbers.size));
    const key = `${change.operation} ${requester}`;
    let record = this.open.get(key);
    if (!record) this.open.set(key, (record = { operation: change.operation, access: change.access, references: [] }));
    record.references.push(`${change.resourceType}/${change.id}`);
    if (record.references.length >= MAX_ENTITIES) this.write(key);
  }

  writeAll(): void {
    for (const key of [...this.open.keys()]) this.write(key);
  }

  private write(key: string): void {
    const record = this.open.get(key);
    if (!record) return;
    this.open.delete(key);
    const status = record.operation === 'create' ? 201 : 200;
    const event = interactionEvent({ interaction: record.operation, requester: { access: record.access }, status, references: record.references });
    // JSON writes a NUL as \u0000: only then is the record walked (see withoutNul), not on every write.
    const json = JSON.stringify(event);
    this.tx.insertLater('audit_outbox', [{ name: 'event', type: 'jsonb[]', value: json.includes('\\u0000') ? JSON.stringify(withoutNul(event)) : json }]);
  }
}

/** An arbitrary constant: the advisory lock of the one process taking change records from the outbox at a time. */
const OUTBOX_LOCK = 7_254_006;

/**
 * Takes the oldest change records from the outbox, unless another process is taking them: they are
 * read without a row lock, and deleted with the AuditEvents' own inserts, in one statement before
 * the commit. The transaction so holds a transaction id only for that statement and the commit: a
 * transaction that does is a moment every subscription waits for (the change feed reads no row
 * newer than the oldest running transaction), and building the AuditEvents takes a while.
 */
async function takeFromOutbox(tx: BatchedTransaction, limit: number): Promise<AuditEvent[]> {
  const { rows } = await tx.beginWith<{ seq: string; event: AuditEvent }>(
    `SELECT o.seq, o.event FROM (SELECT pg_try_advisory_xact_lock(${OUTBOX_LOCK}) AS ours) l,
            LATERAL (SELECT seq, event FROM audit_outbox WHERE l.ours ORDER BY seq LIMIT ${Number(limit)}) o`,
  );
  if (rows.length > 0) tx.deleteLater('DELETE FROM audit_outbox WHERE seq = ANY($1::bigint[])', [rows.map((row) => row.seq)]);
  return rows.map((row) => row.event);
}

/**
 * AuditEvents, stored as FHIR resources through the one write path (searchable by admins).
 * A change's record is written inside the change's own transaction (the write hook), so the two
 * commit or vanish together: as a row of `audit_outbox`, which the writer here turns into
 * AuditEvents with the other records, in batches. What changes nothing (reads, searches, refused
 * requests, authentication) is recorded after the fact, in the same batches, off the request's path.
 */
export class AuditLog {
  private queue: Queued[] = [];
  private timer?: NodeJS.Timeout;
  private sweeper?: NodeJS.Timeout;
  /** The one write in progress: events that arrive meanwhile wait for it and go in the next batch. */
  private draining?: Promise<void>;

  constructor(
    private readonly store: Store,
    private readonly log: Pick<FastifyBaseLogger, 'error'>,
  ) {}

  private write(event: AuditEvent, tx?: BatchedTransaction) {
    return this.store.write({ operation: 'create', resourceType: 'AuditEvent', id: newResourceId(), freshId: true, trusted: true, next: () => withoutNul(event) }, tx);
  }

  /**
   * Records the changes made on a requester's behalf in the changes' own transaction: one record
   * per kind of change (create, update, patch, delete) and requester, naming the resources changed,
   * so a transaction Bundle of 200 creates is one record, not 200. A record names at most
   * MAX_ENTITIES: a larger transaction writes one each time that many are reached (a 100 MB Bundle
   * of 74,000 creates held 55 MB more at its commit while it built one record naming them all).
   * The record goes to the outbox (one small row, in the transaction's batched insert) and becomes
   * an AuditEvent with the next batch.
   */
  writeHook(): WriteHook {
    return {
      name: 'audit',
      afterWrite: async (tx, change) => {
        if (change.resourceType === 'AuditEvent' || !change.access) return;
        this.recordsOf(tx).add(change);
      },
    };
  }

  private readonly recordsByTransaction = new WeakMap<BatchedTransaction, ChangeRecords>();

  private recordsOf(tx: BatchedTransaction): ChangeRecords {
    const known = this.recordsByTransaction.get(tx);
    if (known) return known;
    const records = new ChangeRecords(tx);
    this.recordsByTransaction.set(tx, records);
    tx.beforeCommit(async () => {
      records.writeAll();
      // The records are there once the change commits, a moment from now (a later drain or the sweep
      // takes them if this one comes too early).
      this.timer ??= setTimeout(() => void this.startDrain(), FLUSH_MS);
    });
    return records;
  }

  /** Writes the records the outbox holds now, and looks again every OUTBOX_SWEEP_MS. */
  start(): void {
    void this.startDrain();
    this.sweeper = setInterval(() => void this.sweep(), OUTBOX_SWEEP_MS);
    this.sweeper.unref();
  }

  /**
   * Writes what the outbox holds, then vacuums it. Every change adds a row there that a drain
   * deletes; until a vacuum, the table's index keeps each deleted row, and every drain's ordered
   * read walks past them all (100,000 of them: 0.7 ms a read, 12 ms the first time), so a server
   * on a PostgreSQL whose autovacuum is off or behind got slower with every write it had taken.
   * SKIP_LOCKED: another process vacuuming it meanwhile is enough. It keeps the emptied pages
   * (migration 22): truncating them would hold off every write.
   */
  async sweep(): Promise<void> {
    await this.startDrain();
    await this.store.db.query('VACUUM (SKIP_LOCKED) audit_outbox').catch((error: unknown) => this.log.error({ err: error }, 'vacuuming the audit outbox failed'));
  }

  /** Writes everything queued and stops looking at the outbox. */
  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    await this.flush();
  }

  /** Records an event soon, in the background. */
  record(event: AuditEvent): void {
    this.enqueue(event);
  }

  /**
   * Records a FHIR interaction that changed nothing (a read, a search, a refused request) soon, in
   * the background. Its AuditEvent is built when its batch is written, merged with its like: on the
   * request's path, recording it is only this.
   */
  recordInteraction(interaction: Interaction): void {
    this.enqueue({ interaction, at: Date.now() });
  }

  private enqueue(item: Queued): void {
    this.queue.push(item);
    if (this.draining) return;
    if (this.queue.length >= MAX_BATCH) void this.startDrain();
    else this.timer ??= setTimeout(() => void this.startDrain(), FLUSH_MS);
  }

  /** Writes everything queued and everything in the outbox (at shutdown; in tests); resolves when both are empty. */
  async flush(): Promise<void> {
    do await (this.draining ?? this.startDrain());
    while (this.draining || this.queue.length > 0);
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
    let outboxFull: boolean;
    do {
      const queued = this.queue.splice(0, MAX_BATCH);
      const taken = await this.store
        .transaction(async (tx) => {
          const changes = await takeFromOutbox(tx, MAX_BATCH);
          for (const event of mergeAlike([...changes, ...queued])) await this.write(event, tx);
          return changes.length;
        })
        // The change records stay in the outbox for the next attempt; the others are lost.
        .catch((error: unknown) => {
          this.log.error({ err: error, events: queued.length }, 'audit events could not be written');
          return 0;
        });
      outboxFull = taken === MAX_BATCH;
    } while (this.queue.length >= MAX_BATCH || outboxFull);
  }
}

/** An interaction queued by `recordInteraction`, with the time it was recorded. */
interface QueuedInteraction {
  interaction: Interaction;
  at: number;
}

type Queued = AuditEvent | QueuedInteraction;

/**
 * What merging needs to know of a queued record: the key of its kind (requester, interaction and
 * outcome), its entities by key, and the record itself without its entities, built only for the
 * first of its kind.
 */
interface Mergeable {
  kind: string;
  entities: { key: string; entity: () => AuditEventEntity }[];
  recorded: () => string;
  withoutEntities: () => AuditEvent;
}

/** A queued AuditEvent of an interaction, compared by its JSON text; undefined for the others (authentication, already merged). */
function mergeableEvent(event: AuditEvent): Mergeable | undefined {
  if (event.subtype?.[0]?.system !== INTERACTION_SYSTEM || event.period) return undefined;
  return {
    kind: JSON.stringify([event.type, event.subtype, event.action, event.outcome, event.outcomeDesc, event.agent, event.source]),
    entities: (event.entity ?? []).map((entity) => ({ key: JSON.stringify(entity), entity: () => ({ ...entity }) })),
    recorded: () => event.recorded,
    withoutEntities: () => {
      const { entity: _entities, ...rest } = event;
      return rest;
    },
  };
}

/** A queued interaction, compared by its parts: no AuditEvent is built for one that joins a record. */
function mergeableInteraction({ interaction, at }: QueuedInteraction): Mergeable {
  const { references = [], query } = interaction;
  const entities = references.map((reference) => ({ key: `reference ${reference}`, entity: () => referenceEntity(reference) }));
  if (query) entities.push({ key: `query ${query}`, entity: () => queryEntity(query) });
  return {
    kind: `${interaction.interaction}\n${interaction.status}\n${interaction.description}\n${requesterKey(interaction.requester)}`,
    entities,
    recorded: () => new Date(at).toISOString(),
    withoutEntities: () => ({ ...interactionEvent({ ...interaction, references: undefined, query: undefined }), recorded: new Date(at).toISOString() }),
  };
}

/**
 * The records of FHIR interactions in one batch that differ only in what they concern and when,
 * merged into one per requester, interaction and outcome: it names every entity once (one named
 * again, a resource read again, carries the number of times in a `count` detail) and its `period`
 * spans the first and last of them. A read's record would otherwise cost more than the read (a
 * resource and its index rows each); the merged one is still found by `entity`, `patient`, `agent`
 * and `date`. Authentication events (logins, tokens) stay one record each.
 */
export function mergeAlike(queued: Queued[]): AuditEvent[] {
  const merged: (AuditEvent | MergedRecord)[] = [];
  const open = new Map<string, MergedRecord>();
  for (const item of queued) {
    const mergeable = 'interaction' in item ? mergeableInteraction(item) : mergeableEvent(item);
    if (!mergeable) {
      merged.push(item as AuditEvent);
      continue;
    }
    if (open.get(mergeable.kind)?.absorb(mergeable)) continue;
    const record = new MergedRecord(mergeable);
    open.set(mergeable.kind, record);
    merged.push(record);
  }
  return merged.map((entry) => (entry instanceof MergedRecord ? entry.toEvent() : entry));
}

/** A record being merged: its first and last member, and its entities by key with the times each was named. */
class MergedRecord {
  private readonly named = new Map<string, { entity: AuditEventEntity; times: number }>();
  private last: Mergeable;

  constructor(private readonly first: Mergeable) {
    this.last = first;
    this.name(first);
  }

  /** Takes a later member in, unless its entities would take the record past MAX_ENTITIES. */
  absorb(member: Mergeable): boolean {
    const fresh = new Set(member.entities.map((entity) => entity.key).filter((key) => !this.named.has(key))).size;
    if (this.named.size + fresh > MAX_ENTITIES) return false;
    this.name(member);
    this.last = member;
    return true;
  }

  toEvent(): AuditEvent {
    const event = this.first.withoutEntities();
    if (this.named.size > 0) event.entity = [...this.named.values()].map(({ entity, times }) => (times === 1 ? entity : { ...entity, detail: countDetail(entity, times) }));
    if (this.last !== this.first) {
      event.period = { start: this.first.recorded(), end: this.last.recorded() };
      event.recorded = event.period.end as string;
    }
    return event;
  }

  private name(member: Mergeable): void {
    for (const { key, entity } of member.entities) {
      const known = this.named.get(key);
      if (known) known.times += 1;
      else this.named.set(key, { entity: entity(), times: 1 });
    }
  }
}

/** The entity's details with the number of times it was named in place of any count it had. */
function countDetail(entity: AuditEventEntity, times: number): AuditEventEntity['detail'] {
  return [...(entity.detail ?? []).filter((detail) => detail.type !== 'count'), { type: 'count', valueString: String(times) }];
}
