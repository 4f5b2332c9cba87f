import type { AuditEvent } from '@medplum/fhirtypes';
import { describe, expect, it, vi } from 'vitest';
import { AuditLog, authenticationEvent, interactionEvent, mergeAlike } from '../../src/smart-auth/audit/index.js';
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
      // The transaction's writes, and an empty outbox of change records.
      const emptyOutbox = async () => ({ rows: [] });
      await work(Object.assign(writes, { query: emptyOutbox, beginWith: emptyOutbox }));
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

describe('AuditLog under a steady stream', () => {
  it('writes the few events that arrived during a write together with later ones, not at once', async () => {
    const { store, transactions } = recordingStore();
    const audit = new AuditLog(store, { error: () => undefined });
    // A full batch (2,000) starts a write at once; 50 more arrive while it is written.
    for (let n = 0; n < 2000; n++) audit.record(event(n));
    for (let n = 2000; n < 2050; n++) audit.record(event(n));
    await vi.waitFor(() => expect(transactions).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(transactions).toHaveLength(1);
    for (let n = 2050; n < 2060; n++) audit.record(event(n));
    await vi.waitFor(() => expect(transactions).toHaveLength(2), { timeout: 2000 });
    expect(transactions.map((t) => t.length)).toEqual([2000, 60]);
  });
});

describe('merging a batch of read records', () => {
  const read = (reference: string, recorded: string, clientId = 'app', status = 200) => ({
    ...interactionEvent({ interaction: 'read', requester: { clientId }, status, references: [reference] }),
    recorded,
  });

  it('makes one record per requester, interaction and outcome, naming every entity, over the period they span', () => {
    const merged = mergeAlike([
      read('Patient/1', '2026-01-01T00:00:00.000Z'),
      read('Patient/2', '2026-01-01T00:00:00.100Z', 'other-app'),
      read('Observation/3', '2026-01-01T00:00:00.200Z'),
      read('Patient/4', '2026-01-01T00:00:00.300Z', 'app', 404),
    ]);

    expect(merged.map((e) => [e.agent[0].who?.identifier?.value, e.outcome, e.entity?.map((x) => x.what?.reference)])).toEqual([
      ['app', '0', ['Patient/1', 'Observation/3']],
      ['other-app', '0', ['Patient/2']],
      ['app', '4', ['Patient/4']],
    ]);
    expect(merged[0]).toMatchObject({ recorded: '2026-01-01T00:00:00.200Z', period: { start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T00:00:00.200Z' } });
    expect(merged[1].period).toBeUndefined();
  });

  it('names a resource read again once, with the number of reads', () => {
    const merged = mergeAlike([
      read('Patient/1', '2026-01-01T00:00:00.000Z'),
      read('Patient/2', '2026-01-01T00:00:00.100Z'),
      read('Patient/1', '2026-01-01T00:00:00.200Z'),
      read('Patient/1', '2026-01-01T00:00:00.300Z'),
    ]);

    expect(merged).toHaveLength(1);
    expect(merged[0].entity).toEqual([
      { what: { reference: 'Patient/1' }, detail: [{ type: 'count', valueString: '3' }] },
      { what: { reference: 'Patient/2' } },
    ]);
    expect(merged[0].period).toEqual({ start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T00:00:00.300Z' });
  });

  it('counts only different entities towards the 200 of a record', () => {
    const reads = Array.from({ length: 400 }, (_, n) => read(`Patient/${n % 200}`, '2026-01-01T00:00:00.000Z'));
    reads.push(read('Patient/new', '2026-01-01T00:00:00.000Z'));
    expect(mergeAlike(reads).map((e) => e.entity?.length)).toEqual([200, 1]);
  });

  it('keeps reads and searches apart, and starts a new record after 200 entities', () => {
    const search = interactionEvent({ interaction: 'search-type', requester: { clientId: 'app' }, status: 200, query: 'name=x' });
    const reads = Array.from({ length: 250 }, (_, n) => read(`Patient/${n}`, '2026-01-01T00:00:00.000Z'));
    const merged = mergeAlike([...reads, search]);

    expect(merged.map((e) => [e.subtype?.[0].code, e.entity?.length])).toEqual([
      ['read', 200],
      ['read', 50],
      ['search-type', 1],
    ]);
  });

  it('keeps each authentication event a record of its own', () => {
    const failed = () => authenticationEvent({ action: 'failed-login', requester: { clientId: 'app', username: 'dr.who' }, status: 401 });
    expect(mergeAlike([failed(), failed(), failed()])).toHaveLength(3);
  });

  it('leaves the queued events themselves unchanged', () => {
    const first = read('Patient/1', '2026-01-01T00:00:00.000Z');
    mergeAlike([first, read('Patient/2', '2026-01-01T00:00:01.000Z')]);
    expect(first.entity).toEqual([{ what: { reference: 'Patient/1' } }]);
    expect(first.period).toBeUndefined();
  });
});

describe('merging interactions recorded as they happened (recordInteraction)', () => {
  const at = (iso: string) => Date.parse(iso);
  const readOf = (reference: string, when: string, clientId = 'app') => ({
    interaction: { interaction: 'read', requester: { clientId }, status: 200, references: [reference] },
    at: at(when),
  });

  it('builds the record an AuditEvent of the same reads would have made', () => {
    const asEvents = mergeAlike([
      { ...interactionEvent({ interaction: 'read', requester: { clientId: 'app' }, status: 200, references: ['Patient/1'] }), recorded: '2026-01-01T00:00:00.000Z' },
      { ...interactionEvent({ interaction: 'read', requester: { clientId: 'app' }, status: 200, references: ['Patient/1'] }), recorded: '2026-01-01T00:00:00.200Z' },
    ]);
    const asInteractions = mergeAlike([readOf('Patient/1', '2026-01-01T00:00:00.000Z'), readOf('Patient/1', '2026-01-01T00:00:00.200Z')]);

    expect(asInteractions).toEqual(asEvents);
    expect(asInteractions[0]).toMatchObject({
      recorded: '2026-01-01T00:00:00.200Z',
      period: { start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T00:00:00.200Z' },
      entity: [{ what: { reference: 'Patient/1' }, detail: [{ type: 'count', valueString: '2' }] }],
    });
  });

  it('keeps requesters apart by what their agent shows, and names each search query once', () => {
    const search = (clientId: string, query: string) => ({ interaction: { interaction: 'search-type', requester: { clientId }, status: 200, query }, at: at('2026-01-01T00:00:00.000Z') });
    const merged = mergeAlike([search('app', 'name=x'), search('other-app', 'name=x'), search('app', 'name=x'), search('app', 'name=y')]);

    expect(merged.map((e) => [e.agent[0].who?.identifier?.value, e.entity])).toEqual([
      [
        'app',
        [
          { query: Buffer.from('name=x').toString('base64'), detail: [{ type: 'count', valueString: '2' }] },
          { query: Buffer.from('name=y').toString('base64') },
        ],
      ],
      ['other-app', [{ query: Buffer.from('name=x').toString('base64') }]],
    ]);
  });

  it('writes one record for a batch of reads recorded on the request path', async () => {
    const written: AuditEvent[] = [];
    const store = {
      async transaction(work: (tx: unknown) => Promise<void>) {
        const emptyOutbox = async () => ({ rows: [] });
        await work({ query: emptyOutbox, beginWith: emptyOutbox });
      },
      async write(command: { next: () => AuditEvent }) {
        written.push(command.next());
      },
    } as unknown as Store;
    const audit = new AuditLog(store, { error: () => undefined });
    for (let n = 0; n < 3; n++) audit.recordInteraction({ interaction: 'read', requester: { clientId: 'app', address: '10.0.0.1' }, status: 200, references: [`Patient/${n}`] });
    await audit.flush();

    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({ resourceType: 'AuditEvent', action: 'R', outcome: '0', agent: [{ network: { address: '10.0.0.1' } }] });
    expect(written[0].entity?.map((entity) => entity.what?.reference)).toEqual(['Patient/0', 'Patient/1', 'Patient/2']);
  });
});
