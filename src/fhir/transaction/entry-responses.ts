import { rm, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { bundleFrame, bundleJson } from '../bundle.js';
import type { FhirResponse } from '../types.js';
import { createSpoolFile, readAt, writeAt } from './spool-file.js';

/**
 * The answers of a batch's or transaction's entries, set in the order the entries run and sent in
 * entry order as the response Bundle.
 */
export interface EntryResponses {
  set(index: number, entryJson: string): Promise<void>;
  /** The response Bundle; what it was kept in is let go once it is sent. */
  bundle(type: 'batch-response' | 'transaction-response'): Promise<FhirResponse>;
  /** Lets go of what the answers were kept in, when no Bundle will be sent (the transaction failed). */
  discard(): Promise<void>;
}

/** The answers of a Bundle read from memory: in memory too. */
class ResponsesInMemory implements EntryResponses {
  private readonly entries: string[];

  constructor(count: number) {
    this.entries = new Array<string>(count);
  }

  async set(index: number, entryJson: string): Promise<void> {
    this.entries[index] = entryJson;
  }

  async bundle(type: 'batch-response' | 'transaction-response'): Promise<FhirResponse> {
    return { status: 200, json: bundleJson({ type }, this.entries) };
  }

  async discard(): Promise<void> {}
}

/** Bytes written to the file at a time, and read back at a time. */
const IO_SIZE = 1024 * 1024;
const COMMA = Buffer.from(',');

/**
 * The answers of a spooled Bundle (one too large to hold): each is written to a temporary file as
 * it comes, and the response Bundle is streamed from it, in entry order. Held, they were as large
 * as the entries are many (74,000 entries: about 30 MB with `return=minimal`; with the default
 * `return=representation` every resource again), and joined into one string at the end, twice that.
 * The file is removed from its directory as soon as it is open: nothing is left of it, whatever
 * becomes of the process.
 */
class SpooledResponses implements EntryResponses {
  /** Where each entry's answer is in the file, and how long it is. */
  private readonly offsets: Float64Array;
  private readonly lengths: Uint32Array;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private written = 0;
  private closed?: Promise<void>;

  private constructor(
    private readonly file: FileHandle,
    private readonly count: number,
  ) {
    this.offsets = new Float64Array(count);
    this.lengths = new Uint32Array(count);
  }

  static async create(dir: string, count: number): Promise<SpooledResponses> {
    const { file, path } = await createSpoolFile(dir);
    await rm(path, { force: true });
    return new SpooledResponses(file, count);
  }

  async set(index: number, entryJson: string): Promise<void> {
    const bytes = Buffer.from(entryJson);
    this.offsets[index] = this.written + this.pendingBytes;
    this.lengths[index] = bytes.length;
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= IO_SIZE) await this.flush();
  }

  async bundle(type: 'batch-response' | 'transaction-response'): Promise<FhirResponse> {
    try {
      await this.flush();
    } catch (error) {
      await this.discard();
      throw error;
    }
    return { status: 200, stream: Readable.from(this.text(type), { objectMode: false }) };
  }

  discard(): Promise<void> {
    this.closed ??= this.file.close();
    return this.closed;
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const data = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    await writeAt(this.file, data, this.written);
    this.written += data.length;
  }

  /** The Bundle's text: its head, the answers in entry order (read a run of neighbours in the file at a time), its end. */
  private async *text(type: 'batch-response' | 'transaction-response'): AsyncGenerator<Buffer | string> {
    try {
      const { before, after } = bundleFrame({ type });
      yield before;
      for (let first = 0; first < this.count; ) {
        let last = first + 1;
        let end = this.offsets[first] + this.lengths[first];
        while (last < this.count && this.offsets[last] === end && end - this.offsets[first] < IO_SIZE) end += this.lengths[last++];
        const run = await this.read(this.offsets[first], end - this.offsets[first]);
        const parts: Buffer[] = [];
        for (let index = first, at = 0; index < last; at += this.lengths[index++]) {
          if (index > 0) parts.push(COMMA);
          parts.push(run.subarray(at, at + this.lengths[index]));
        }
        yield Buffer.concat(parts);
        first = last;
      }
      yield after;
    } finally {
      await this.discard();
    }
  }

  private async read(position: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    if ((await readAt(this.file, buffer, position)) < length) throw new Error('The spooled answers of the Bundle ended early');
    return buffer;
  }
}

/** Where a Bundle's answers are kept: in a file in `spoolDir` when its body was spooled there, else in memory. */
export async function entryResponses(count: number, spoolDir: string | undefined): Promise<EntryResponses> {
  return spoolDir && count > 0 ? SpooledResponses.create(spoolDir, count) : new ResponsesInMemory(count);
}
