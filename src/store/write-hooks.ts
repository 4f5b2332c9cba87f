import type { BatchedTransaction } from './batched-transaction.js';
import type { Change } from './types.js';

/**
 * The extension points of the one write path. Validation, access rules, domain rules (src/resources),
 * search indexes and audit plug in here; each runs inside the write's database transaction, so a
 * hook that throws rolls back the whole change.
 */
export interface WriteHook {
  name: string;
  /** Before anything is written: may reject the change by throwing, or adjust `change.resource`. */
  beforeWrite?(tx: BatchedTransaction, change: Change): void | Promise<void>;
  /** After the resource and history rows are written, in the same transaction (index rows, audit). */
  afterWrite?(tx: BatchedTransaction, change: Change): void | Promise<void>;
}
