import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { BundleEntry, Resource } from '@medplum/fhirtypes';
import type { EntryError, UploadJob } from './uploader.js';

/** The files to import: files as given, folders searched (recursively) for `.json`, `.ndjson`, `.jsonl`. */
export interface InputFile {
  path: string;
  bytes: number;
}

const EXTENSIONS = ['.json', '.ndjson', '.jsonl'];

export async function findInputFiles(args: string[]): Promise<InputFile[]> {
  const files: InputFile[] = [];
  const visit = async (target: string, explicit: boolean): Promise<void> => {
    const info = await stat(target);
    if (info.isDirectory()) {
      const names = (await readdir(target)).sort();
      for (const name of names) await visit(path.join(target, name), false);
    } else if (explicit || EXTENSIONS.some((ext) => target.endsWith(ext))) {
      files.push({ path: target, bytes: info.size });
    }
  };
  for (const arg of args) await visit(arg, true);
  return files;
}

export interface GroupOptions {
  /** Entries per Bundle when the loader builds Bundles (NDJSON lines, single resources). */
  batchSize: number;
  bundleType: 'transaction' | 'batch';
  /** Problems found while reading (a line that is not JSON): reported, not uploaded. */
  onReadError: (error: EntryError) => void;
}

interface PendingEntry {
  entry: BundleEntry;
  label: string;
  bytes: number;
}

/**
 * Gathers loose resources (NDJSON lines, single-resource files, entries of collection Bundles)
 * into Bundles of `batchSize`: `PUT Type/id` when the resource has an id, else `POST Type`.
 */
class Grouper {
  private pending: PendingEntry[] = [];

  constructor(private readonly options: GroupOptions) {}

  add(resource: Resource, label: string, bytes: number): UploadJob | undefined {
    const entry: BundleEntry = resource.id
      ? { resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` } }
      : { resource, request: { method: 'POST', url: resource.resourceType } };
    this.pending.push({ entry, label, bytes });
    return this.pending.length >= this.options.batchSize ? this.flush() : undefined;
  }

  flush(): UploadJob | undefined {
    if (this.pending.length === 0) return undefined;
    const group = this.pending;
    this.pending = [];
    return {
      source: describeGroup(group.map((p) => p.label)),
      body: { resourceType: 'Bundle', type: this.options.bundleType, entry: group.map((p) => p.entry) },
      resources: group.length,
      units: group.reduce((sum, p) => sum + p.bytes, 0),
      entryLabel: (index) => group[index]?.label ?? `entry ${index}`,
    };
  }
}

/** `a.ndjson lines 1-200`, or the first and last labels. */
function describeGroup(labels: string[]): string {
  const first = labels[0];
  const last = labels[labels.length - 1];
  const lines = /^(.*):(\d+)$/;
  const a = lines.exec(first);
  const b = lines.exec(last);
  if (a && b && a[1] === b[1]) return `${a[1]} lines ${a[2]}-${b[2]}`;
  return labels.length === 1 ? first : `${first} .. ${last}`;
}

function isResource(value: unknown): value is Resource {
  return typeof value === 'object' && value !== null && typeof (value as Resource).resourceType === 'string';
}

/**
 * The upload jobs for the files, read one at a time: a transaction or batch Bundle is sent as it
 * is (one per file); NDJSON lines, single resources and the entries of other Bundles are grouped.
 */
export async function* jobsFromFiles(files: InputFile[], options: GroupOptions): AsyncGenerator<UploadJob> {
  const grouper = new Grouper(options);
  for (const file of files) {
    if (file.path.endsWith('.ndjson') || file.path.endsWith('.jsonl')) {
      const lines = createInterface({ input: createReadStream(file.path, 'utf8'), crlfDelay: Infinity });
      let number = 0;
      for await (const line of lines) {
        number++;
        const bytes = Buffer.byteLength(line) + 1;
        if (!line.trim()) continue;
        let resource: unknown;
        try {
          resource = JSON.parse(line);
        } catch (error) {
          options.onReadError({ source: `${file.path}:${number}`, status: 'unreadable', diagnostics: `not JSON: ${(error as Error).message}` });
          continue;
        }
        if (!isResource(resource)) {
          options.onReadError({ source: `${file.path}:${number}`, status: 'unreadable', diagnostics: 'not a FHIR resource (no resourceType)' });
          continue;
        }
        const job = grouper.add(resource, `${file.path}:${number}`, bytes);
        if (job) yield job;
      }
      continue;
    }
    const text = await readFile(file.path, 'utf8');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      options.onReadError({ source: file.path, status: 'unreadable', diagnostics: `not JSON: ${(error as Error).message}` });
      continue;
    }
    if (!isResource(value)) {
      options.onReadError({ source: file.path, status: 'unreadable', diagnostics: 'not a FHIR resource (no resourceType)' });
      continue;
    }
    if (value.resourceType === 'Bundle' && (value.type === 'transaction' || value.type === 'batch')) {
      const entries = value.entry ?? [];
      yield {
        source: file.path,
        body: text,
        resources: entries.length,
        units: file.bytes,
        entryLabel: (index) => {
          const request = entries[index]?.request;
          return request ? `${request.method} ${request.url}` : `entry ${index}`;
        },
      };
    } else if (value.resourceType === 'Bundle') {
      const entries = (value.entry ?? []).filter((entry) => entry.resource);
      const share = entries.length ? file.bytes / entries.length : file.bytes;
      for (let i = 0; i < entries.length; i++) {
        const job = grouper.add(entries[i].resource as Resource, `${file.path} entry[${i}]`, share);
        if (job) yield job;
      }
    } else {
      const job = grouper.add(value, file.path, file.bytes);
      if (job) yield job;
    }
  }
  const last = grouper.flush();
  if (last) yield last;
}
