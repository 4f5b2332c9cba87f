import type { BatchedTransaction } from './batched-transaction.js';
import { Database, type Queryable } from './database.js';
import { readHistory, type HistoryQuery } from './history.js';
import { metaInUse } from './meta.js';
import { readCurrent, readMany, readVersion } from './read.js';
import type { WriteHook } from './write-hooks.js';
import { lockForWrites, lockResource, tryLockResource, writeResource } from './write-path.js';
import type { Meta } from '@medplum/fhirtypes';
import type { HistoryEntry, StoredVersion, WriteCommand, WriteResult } from './types.js';

export { BatchedTransaction } from './batched-transaction.js';
export { Database, isPgError, PG_ERRORS, refusedTextOf, type Queryable } from './database.js';
export { migrate } from './migrate.js';
export { newResourceId } from './resource-id.js';
export { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded-postgres.js';
export type { HistoryQuery } from './history.js';
export type { WriteHook } from './write-hooks.js';
export type * from './types.js';

/**
 * The storage of resources: reads, history and the one write path, on PostgreSQL. It knows nothing
 * of HTTP. Every method takes an optional connection so that a FHIR transaction can run many
 * interactions inside one database transaction.
 */
export class Store {
  private readonly hooks: WriteHook[] = [];

  constructor(readonly db: Database) {}

  addWriteHook(hook: WriteHook): void {
    this.hooks.push(hook);
  }

  transaction<T>(work: (tx: BatchedTransaction) => Promise<T>): Promise<T> {
    return this.db.transaction(work);
  }

  /** Runs `work` in the given transaction, or in a new one of its own. */
  inTransaction<T>(tx: BatchedTransaction | undefined, work: (tx: BatchedTransaction) => Promise<T>): Promise<T> {
    return tx ? work(tx) : this.db.transaction(work);
  }

  write(command: WriteCommand, tx?: BatchedTransaction): Promise<WriteResult> {
    return this.inTransaction(tx, (t) => writeResource(t, this.hooks, command));
  }

  /**
   * Locks and reads ahead the resources a transaction is about to write (a transaction Bundle's
   * entries), in two statements instead of two per resource; their writes then go straight on.
   */
  lockForWrites(tx: BatchedTransaction, targets: { resourceType: string; id: string }[]): Promise<void> {
    return lockForWrites(tx, targets);
  }

  /** Serialises writers that decide by a search (conditional create), across processes. */
  lockKey(tx: Queryable, key: string): Promise<void> {
    return lockResource(tx, 'lock', key);
  }

  /**
   * Takes the lock the write path takes on a resource, until `tx` ends: a rule that decides by a
   * resource it will then change (booking a Slot) holds it from its check to its commit.
   */
  lock(tx: Queryable, resourceType: string, id: string): Promise<void> {
    return lockResource(tx, resourceType, id);
  }

  /** The same lock without waiting: false when another transaction is writing the resource. */
  tryLock(tx: Queryable, resourceType: string, id: string): Promise<boolean> {
    return tryLockResource(tx, resourceType, id);
  }

  read(resourceType: string, id: string, tx?: Queryable): Promise<StoredVersion | undefined> {
    return readCurrent(tx ?? this.db, resourceType, id);
  }

  vread(resourceType: string, id: string, versionId: number, tx?: Queryable): Promise<StoredVersion | undefined> {
    return readVersion(tx ?? this.db, resourceType, id, versionId);
  }

  readMany(refs: { resourceType: string; id: string }[], tx?: Queryable): Promise<StoredVersion[]> {
    return readMany(tx ?? this.db, refs);
  }

  history(query: HistoryQuery, tx?: Queryable): Promise<HistoryEntry[]> {
    return readHistory(tx ?? this.db, query);
  }

  metaInUse(resourceType?: string, tx?: Queryable): Promise<Meta> {
    return metaInUse(tx ?? this.db, resourceType);
  }
}
