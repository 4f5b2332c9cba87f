import { readdir, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { finished, type Readable } from 'node:stream';
import { errorCodes, type FastifyRequest } from 'fastify';
import { errors } from '../errors.js';
import { BundleScanner, JsonSyntaxError } from './transaction/bundle-scanner.js';
import { SpooledBundle } from './transaction/bundle-source.js';
import { createSpoolFile, isSpoolFileName, writeAt } from './transaction/spool-file.js';

export interface JsonBodyOptions {
  /** BODY_LIMIT: the largest body, spooled or not. */
  bodyLimit: number;
  /** Beyond this many bytes, a body that `spools` accepts goes to a file instead of memory. */
  spoolThreshold: number;
  spoolDir: string;
  /** Whether the request's body may be spooled: only a batch or transaction is read entry by entry. */
  spools: (request: FastifyRequest) => boolean;
}

/**
 * The JSON nesting a body may have: far more than any resource needs (a Questionnaire item fifty
 * levels down is a hundred), and far less than the recursive walks of validation and indexing can
 * take before the stack runs out (a body nested 10,000 deep was a 500).
 */
export const MAX_JSON_DEPTH = 200;

/** Whether JSON text nests objects and arrays deeper than `max` (outside its strings). */
function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** JSON text as a value; a syntax error, or nesting beyond MAX_JSON_DEPTH, is a 400 OperationOutcome; an empty body is no body. */
export function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw errors.invalidJson((error as Error).message);
  }
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) throw errors.invalidJson(`objects and arrays nest deeper than ${MAX_JSON_DEPTH} levels`);
  return value;
}

/**
 * The FHIR API's JSON body parser, on the request stream. A body is read into memory and parsed,
 * unless `spools` accepts the request and more than `spoolThreshold` bytes arrive: then the body
 * goes on to a temporary file as it arrives, scanned on the way for where its entries are, and the
 * request's body is a SpooledBundle, read entry by entry (the handler releases it). Deciding by the
 * bytes received rather than by Content-Length treats a chunked body the same, and keeps small
 * Bundles (most of them) off the disk; 4 MB of Bundle parsed in memory costs some tens of MB.
 */
export function jsonBodyParser(options: JsonBodyOptions): (request: FastifyRequest, payload: Readable) => Promise<unknown> {
  return async (request, payload) => {
    const announced = request.headers['content-length'];
    if (Number(announced) > options.bodyLimit) throw new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();
    const body = new Body(options.spools(request) ? options : undefined);
    try {
      const received = await eachChunk(payload, options.bodyLimit, (chunk) => body.take(chunk));
      if (announced !== undefined && Number(announced) !== received) throw new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH();
      return await body.value();
    } catch (error) {
      await body.discard();
      throw error instanceof JsonSyntaxError ? errors.invalidJson(error.message) : error;
    }
  };
}

/** A body as it arrives: in memory, until a spoolable one passes the threshold and goes on to a file. */
class Body {
  private chunks: Buffer[] = [];
  private size = 0;
  private spool?: Spool;

  constructor(private readonly spooling: Pick<JsonBodyOptions, 'spoolThreshold' | 'spoolDir'> | undefined) {}

  async take(chunk: Buffer): Promise<void> {
    if (this.spool) return this.spool.write(chunk);
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (!this.spooling || this.size <= this.spooling.spoolThreshold) return;
    this.spool = await Spool.create(this.spooling.spoolDir);
    for (const early of this.chunks.splice(0)) await this.spool.write(early);
  }

  /** The parsed JSON, or the spooled Bundle, which then owns the file. */
  async value(): Promise<unknown> {
    return this.spool ? this.spool.finish() : parseJson(Buffer.concat(this.chunks, this.size).toString('utf8'));
  }

  async discard(): Promise<void> {
    await this.spool?.discard();
  }
}

/**
 * Hands each chunk of the body to `take`, the stream paused until it is done (a slow disk holds
 * the client back); answers the bytes received. Beyond `limit` bytes it fails with fastify's 413,
 * and the rest of the body is read and dropped so that the answer can still be sent.
 */
function eachChunk(payload: Readable, limit: number, take: (chunk: Buffer) => Promise<void>): Promise<number> {
  return new Promise((resolve, reject) => {
    let received = 0;
    let taking: Promise<unknown> = Promise.resolve();
    const stop = () => {
      payload.off('data', onData);
      stopWatching();
    };
    const fail = (error: unknown) => {
      stop();
      payload.resume();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) return fail(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      payload.pause();
      taking = take(chunk).then(() => payload.resume(), fail);
    };
    // The end of the body, or the client going away before it (an error, or a close without an end).
    // Settled once the chunk being taken is done: a file it was opening is then known, to be discarded.
    const stopWatching = finished(payload, (error) => {
      stop();
      void taking.then(() => (error ? reject(errors.badRequest(`The request body could not be read: ${error.message}`)) : resolve(received)));
    });
    payload.on('data', onData);
  });
}

/**
 * Removes the spool files older than `maxAgeMs`: those of a process that died while it handled a
 * large Bundle (its own are removed with each request). Other processes may share the directory,
 * so a file is taken for left over only when no request could still be using it.
 */
export async function removeStaleSpools(dir: string, maxAgeMs = 24 * 3600 * 1000, now = Date.now()): Promise<number> {
  let removed = 0;
  for (const name of await readdir(dir)) {
    if (!isSpoolFileName(name)) continue;
    const file = path.join(dir, name);
    const info = await stat(file).catch(() => undefined);
    if (!info || now - info.mtimeMs <= maxAgeMs) continue;
    // Another user's file, say, is left where it is.
    if (await rm(file, { force: true }).then(() => true, () => false)) removed += 1;
  }
  return removed;
}

/** A body on its way to a temporary file, scanned as it goes. */
class Spool {
  private readonly scanner = new BundleScanner();
  private size = 0;

  private constructor(
    private readonly file: FileHandle,
    private readonly path: string,
  ) {}

  static async create(dir: string): Promise<Spool> {
    const { file, path } = await createSpoolFile(dir);
    return new Spool(file, path);
  }

  async write(chunk: Buffer): Promise<void> {
    this.scanner.feed(chunk);
    await writeAt(this.file, chunk, this.size);
    this.size += chunk.length;
  }

  /** The Bundle, which now owns the file. */
  finish(): Promise<SpooledBundle> {
    return SpooledBundle.open(this.file, this.path, this.scanner.finish());
  }

  async discard(): Promise<void> {
    await this.file.close().catch(() => undefined);
    await rm(this.path, { force: true });
  }
}
