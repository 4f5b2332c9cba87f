import type { FileHandle } from 'node:fs/promises';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Bundle, BundleEntry } from '@medplum/fhirtypes';
import { errors } from '../../errors.js';
import type { BundleLayout, Span } from './bundle-scanner.js';
import { requireBundle } from './entries.js';
import { readAt } from './spool-file.js';

/** The entries of a batch or transaction Bundle, read one at a time: from memory, or from the disk for a large body. */
export interface BundleSource {
  type: 'batch' | 'transaction';
  count: number;
  /** The directory of the file a spooled Bundle is in; its answers are kept there too. */
  spoolDir?: string;
  /** The entry at `index`, as sent: a spooled one is parsed afresh each time, and nothing keeps it. */
  entry(index: number): Promise<BundleEntry>;
}

/** How much of the file one read brings in: entries are read in order, many per read. */
const READ_WINDOW = 1024 * 1024;

/**
 * A Bundle body kept in a file while its request is handled (http.ts spools large ones): the small
 * top-level members parsed, and where each entry is. `release` closes and deletes the file.
 */
export class SpooledBundle {
  /** Every top-level member but the `entry` array. */
  readonly head: Record<string, unknown> = {};
  /** One buffer for every read (a new one per read would be garbage the size of the file), and the part of the file it holds. */
  private buffer = Buffer.allocUnsafe(READ_WINDOW);
  private window = { start: 0, length: 0 };
  /** Reads go one at a time: each uses the shared buffer up (decodes its bytes) before the next fills it. */
  private reading: Promise<unknown> = Promise.resolve();
  private released?: Promise<void>;

  private constructor(
    private readonly file: FileHandle,
    readonly path: string,
    private readonly entries: Span[],
  ) {}

  /** Parses the top-level members (which also checks that they are JSON): they are small, unlike the entries. */
  static async open(file: FileHandle, path: string, layout: BundleLayout): Promise<SpooledBundle> {
    const bundle = new SpooledBundle(file, path, layout.entries);
    for (const { key, value } of layout.members) {
      const name = (await bundle.parse(key, 'a member name')) as string;
      // An own property whatever the name, as JSON.parse makes it (`__proto__` included).
      Object.defineProperty(bundle.head, name, { value: await bundle.parse(value, name), enumerable: true, writable: true, configurable: true });
    }
    return bundle;
  }

  /** The Bundle's type, as the router reads it from any body to name the interaction. */
  get type(): unknown {
    return this.head.type;
  }

  get count(): number {
    return this.entries.length;
  }

  entry(index: number): Promise<BundleEntry> {
    return this.parse(this.entries[index], `Bundle.entry[${index}]`) as Promise<BundleEntry>;
  }

  release(): Promise<void> {
    this.released ??= this.file.close().finally(() => rm(this.path, { force: true }));
    return this.released;
  }

  private parse(span: Span, what: string): Promise<unknown> {
    const parsed = this.reading.then(() => this.parseNow(span, what));
    this.reading = parsed.catch(() => undefined);
    return parsed;
  }

  private async parseNow(span: Span, what: string): Promise<unknown> {
    const text = (await this.bytes(span)).toString('utf8');
    try {
      return JSON.parse(text);
    } catch (error) {
      throw errors.invalidJson(`${what}: ${(error as Error).message}`);
    }
  }

  private async bytes(span: Span): Promise<Buffer> {
    const { start, length } = this.window;
    if (span.start < start || span.end > start + length) {
      if (span.end - span.start > this.buffer.length) this.buffer = Buffer.allocUnsafe(span.end - span.start);
      this.window = { start: span.start, length: 0 };
      this.window.length = await readAt(this.file, this.buffer, span.start);
    }
    return this.buffer.subarray(span.start - this.window.start, span.end - this.window.start);
  }
}

/** The request body of a POST to the base as a source of entries; 400 unless it is a batch or transaction Bundle. */
export function bundleSource(body: unknown): BundleSource {
  if (body instanceof SpooledBundle) {
    const { type } = requireBundle(body.head);
    return { type: type as BundleSource['type'], count: body.count, spoolDir: dirname(body.path), entry: (index) => body.entry(index) };
  }
  const bundle: Bundle = requireBundle(body);
  const entries = bundle.entry ?? [];
  return { type: bundle.type as BundleSource['type'], count: entries.length, entry: async (index) => entries[index] };
}
