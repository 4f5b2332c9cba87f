import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryResponses } from '../../src/fhir/transaction/entry-responses.js';

/**
 * A batch's or transaction's answers, set in the order the entries run (a transaction runs its
 * DELETEs first) and sent in entry order: in memory, or for a spooled Bundle in a file of its own.
 */
describe('entry responses', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fhir-responses-test-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  const answers = ['{"response":{"status":"201 Created"}}', '{"response":{"status":"204 No Content","x":"日本 😀"}}', '{"response":{"status":"200 OK"}}'];

  async function bundleOf(spoolDir: string | undefined) {
    const responses = await entryResponses(answers.length, spoolDir);
    for (const index of [1, 2, 0]) await responses.set(index, answers[index]);
    const response = await responses.bundle('transaction-response');
    return JSON.parse(response.stream ? await text(response.stream) : (response.json as string));
  }

  it('in memory and spooled, sends the answers in entry order whatever the order they came in', async () => {
    for (const spoolDir of [undefined, dir]) {
      const bundle = await bundleOf(spoolDir);
      expect(bundle.resourceType).toBe('Bundle');
      expect(bundle.type).toBe('transaction-response');
      expect(bundle.entry).toEqual(answers.map((answer) => JSON.parse(answer)));
    }
  });

  it('keeps no file in the spool directory, not even while the answers are kept', async () => {
    const responses = await entryResponses(2, dir);
    await responses.set(0, answers[0]);
    expect(await readdir(dir)).toEqual([]);
    await responses.discard();
  });
});
