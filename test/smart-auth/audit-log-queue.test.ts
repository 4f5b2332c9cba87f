import type { AuditEvent } from '@medplum/fhirtypes';
import { describe, expect, it, vi } from 'vitest';
import { AuditLog } from '../../src/smart-auth/audit/index.js';
import type { Store } from '../../src/store/index.js';

/** A store that records each transaction's writes and whether two transactions ever overlapped. */
function recordingStore() {
  const transactions: string[][] = [];
  let open = 0;
  let overlapped = false;
  const store = {
    async transaction(work: (tx: unknown) => Promise<void>) {
      open += 1;
      if (open > 1) overlapped = true;
      const writes: string[] = [];
      await work(writes);
      await new Promise((resolve) => setTimeout(resolve, 5));
      transactions.push(writes);
      open -= 1;
    },
    async write(command: { next: () => AuditEvent }, tx: string[]) {
      tx.push(command.next().outcomeDesc as string);
    },
  };
  return { store: store as unknown as Store, transactions, overlapped: () => overlapped };
}

const event = (n: number): AuditEvent => ({ resourceType: 'AuditEvent', outcomeDesc: String(n) } as AuditEvent);

describe('AuditLog queue', () => {
  it('writes a backlog in order, in large batches, one transaction at a time', async () => {
    const { store, transactions, overlapped } = recordingStore();
    const audit = new AuditLog(store, { error: () => undefined });
    for (let n = 0; n < 5000; n++) audit.record(event(n));
    await audit.flush();

    const written = transactions.flat();
    expect(written).toEqual(Array.from({ length: 5000 }, (_, n) => String(n)));
    expect(transactions.length).toBeLessThanOrEqual(4);
    expect(overlapped()).toBe(false);
  });

  it('writes an event recorded while a batch is being written, without another record to wake it', async () => {
    const { store, transactions } = recordingStore();
    const audit = new AuditLog(store, { error: () => undefined });
    audit.record(event(1));
    const first = audit.flush();
    audit.record(event(2));
    await first;
    await vi.waitFor(() => expect(transactions.flat()).toEqual(['1', '2']), { timeout: 2000 });
  });
});
