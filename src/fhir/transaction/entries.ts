import type { Binary, Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { errors } from '../../errors.js';
import type { FhirRequest } from '../types.js';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** One entry of a batch or transaction, turned into the FhirRequest it stands for. */
export interface ParsedEntry {
  index: number;
  fullUrl?: string;
  request: FhirRequest;
  /** The first path segment (the resource type) and the second (the id), when the URL has them. */
  type?: string;
  id?: string;
  /** The query of a conditional URL (`Patient?identifier=x`), when it has one. */
  criteria?: string;
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

/** The URL relative to the FHIR base: entries may give it absolute, with our base. */
function relativeUrl(url: string, baseUrl: string): string {
  if (url.startsWith(`${baseUrl}/`)) return url.slice(baseUrl.length + 1);
  return url.replace(/^\/+/, '');
}

export function parseEntry(entry: BundleEntry, index: number, baseUrl: string, prefer: string | undefined): ParsedEntry {
  const where = `Bundle.entry[${index}]`;
  const method = entry?.request?.method;
  const url = entry?.request?.url;
  if (!method || !METHODS.includes(method)) throw errors.badRequest(`${where}.request.method must be one of ${METHODS.join(', ')}`);
  if (!url) throw errors.badRequest(`${where}.request.url is required`);
  const [path, query = ''] = relativeUrl(url, baseUrl).split('?', 2) as [string, string?];
  const [type, id] = path.split('/');
  const body = method === 'PATCH' ? patchBody(entry.resource, index) : { body: entry.resource, bodyFormat: 'resource' as const };
  const request: FhirRequest = {
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
  return { index, fullUrl: entry.fullUrl, request, type, id, criteria: url.includes('?') ? query : undefined };
}
