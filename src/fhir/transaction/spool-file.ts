import { randomUUID } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

const SPOOL_FILE = /^fhir-bundle-[0-9a-f-]{36}\.json$/;

/** Whether a file name is one `createSpoolFile` gives. */
export function isSpoolFileName(name: string): boolean {
  return SPOOL_FILE.test(name);
}

/**
 * The temporary files of large Bundles: the body spooled as it arrives (json-body.ts), and the
 * answers of its entries (entry-responses.ts). Their names are what `removeStaleSpools` looks for.
 */
export async function createSpoolFile(dir: string): Promise<{ file: FileHandle; path: string }> {
  const name = path.join(dir, `fhir-bundle-${randomUUID()}.json`);
  return { file: await open(name, 'wx+', 0o600), path: name };
}

/** Writes all of `data` at `position` (a write may take only part of it). */
export async function writeAt(file: FileHandle, data: Buffer, position: number): Promise<void> {
  for (let done = 0; done < data.length; ) done += (await file.write(data, done, data.length - done, position + done)).bytesWritten;
}

/** Fills `buffer` from `position`, less at the end of the file; answers how much it read. */
export async function readAt(file: FileHandle, buffer: Buffer, position: number): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await file.read(buffer, filled, buffer.length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}
