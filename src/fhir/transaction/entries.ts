import type { Binary, Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { errors } from '../../errors.js';
import type { FhirRequest } from '../types.js';
import type { BundleSource } from './bundle-source.js';
import { entryResponses, type EntryResponses } from './entry-responses.js';
import { conditionalReferences } from './references.js';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/**
 * What planning needs of one entry of a batch or transaction: its request without the resource,
 * which is read again from the Bundle when the entry runs (a large Bundle is never held whole).
 */
export interface ParsedEntry {
  index: number;
  fullUrl?: string;
  method: string;
  /** The URL below the base, without its query. */
  path: string;
  /** The first path segment (the resource type) and the second (the id), when the URL has them. */
  type?: string;
  id?: string;
  /** The query of a conditional URL (`Patient?identifier=x`), when it has one. */
  criteria?: string;
  ifNoneExist?: string;
  /** A PUT's resource's own id. */
  bodyId?: string;
  /** The conditional references (`Patient?identifier=x|y`) in the resource, when it has any. */
  conditionalReferences?: string[];
  /** The id planning gave a conditional PUT: its resource is written with it. */
  assignedId?: string;
}

export function requireBundle(body: unknown): Bundle {
  const bundle = body as Bundle | undefined;
  if (bundle?.resourceType !== 'Bundle') throw errors.badRequest('POST to the base URL takes a Bundle of type batch or transaction');
  if (bundle.type !== 'batch' && bundle.type !== 'transaction') {
    throw errors.badRequest(`Bundle type "${String(bundle.type)}" cannot be processed; use batch or transaction`);
  }
  if (bundle.entry !== undefined && !Array.isArray(bundle.entry)) throw errors.badRequest('Bundle.entry must be an array');
  return bundle;
}

/** A PATCH entry carries its patch as a Binary (JSON Patch, base64) or as Parameters (FHIRPath Patch). */
function patchBody(resource: Resource | undefined, index: number): Pick<FhirRequest, 'body' | 'bodyFormat'> {
  if (resource?.resourceType === 'Binary') {
    const binary = resource as Binary;
    if (!binary.data) throw errors.badRequest(`Bundle.entry[${index}]: the Binary patch has no data`);
    try {
      return { body: JSON.parse(Buffer.from(binary.data, 'base64').toString('utf8')), bodyFormat: 'json-patch' };
    } catch {
      throw errors.badRequest(`Bundle.entry[${index}]: the Binary patch is not base64 JSON`);
    }
  }
  return { body: resource, bodyFormat: 'resource' };
}

/** The URL's path relative to the FHIR base (entries may give it absolute, with our base) and its query. */
function splitUrl(url: string, baseUrl: string): [path: string, query: string] {
  const relative = url.startsWith(`${baseUrl}/`) ? url.slice(baseUrl.length + 1) : url.replace(/^\/+/, '');
  const [path, query = ''] = relative.split('?', 2) as [string, string?];
  return [path, query];
}

/** The request an entry stands for, its resource included. */
function entryRequest(entry: BundleEntry, index: number, baseUrl: string, prefer: string | undefined): FhirRequest {
  const where = `Bundle.entry[${index}]`;
  const method = entry?.request?.method;
  const url = entry?.request?.url;
  if (!method || !METHODS.includes(method)) throw errors.badRequest(`${where}.request.method must be one of ${METHODS.join(', ')}`);
  if (!url) throw errors.badRequest(`${where}.request.url is required`);
  if (/^[a-z][a-z0-9+.-]*:/i.test(url) && !url.startsWith(`${baseUrl}/`)) {
    throw errors.badRequest(`${where}.request.url "${url}" is on another server: give it relative to ${baseUrl}, or absolute on it`);
  }
  const [path, query] = splitUrl(url, baseUrl);
  const body = method === 'PATCH' ? patchBody(entry.resource, index) : { body: entry.resource, bodyFormat: 'resource' as const };
  return {
    method,
    path,
    query: new URLSearchParams(query),
    headers: {
      ifMatch: entry.request?.ifMatch,
      ifNoneMatch: entry.request?.ifNoneMatch,
      ifNoneExist: entry.request?.ifNoneExist,
      ifModifiedSince: entry.request?.ifModifiedSince,
      prefer,
    },
    ...(method === 'POST' || method === 'PUT' || method === 'PATCH' ? body : {}),
  };
}

/** An entry's request checked and described for planning; its resource is let go. */
function parseEntry(entry: BundleEntry, index: number, baseUrl: string): ParsedEntry {
  const request = entryRequest(entry, index, baseUrl, undefined);
  const [type, id] = request.path.split('/');
  const url = entry.request?.url as string;
  const [, query] = splitUrl(url, baseUrl);
  const references = conditionalReferences(request.body);
  return {
    index,
    fullUrl: entry.fullUrl,
    method: request.method,
    path: request.path,
    type,
    id,
    criteria: url.includes('?') ? query : undefined,
    ifNoneExist: request.headers.ifNoneExist,
    bodyId: request.method === 'PUT' ? (request.body as Resource | undefined)?.id : undefined,
    conditionalReferences: references.size ? [...references] : undefined,
  };
}

/** A Bundle's entries as requests: each parsed once for planning, and read again when it runs. */
export class BundleEntries {
  constructor(
    private readonly source: BundleSource,
    private readonly baseUrl: string,
    private readonly prefer: string | undefined,
  ) {}

  /** Every entry described for planning, in order: a malformed one fails the Bundle before any entry runs. */
  async parseAll(): Promise<ParsedEntry[]> {
    const entries: ParsedEntry[] = [];
    for (let index = 0; index < this.source.count; index++) entries.push(parseEntry(await this.source.entry(index), index, this.baseUrl));
    return entries;
  }

  /** Where the entries' answers are kept until the response Bundle is sent: beside a spooled Bundle, on disk too. */
  responses(): Promise<EntryResponses> {
    return entryResponses(this.source.count, this.source.spoolDir);
  }

  /** The entry's request with its resource, read afresh from the Bundle. */
  async request(entry: ParsedEntry): Promise<FhirRequest> {
    return entryRequest(await this.source.entry(entry.index), entry.index, this.baseUrl, this.prefer);
  }
}
