import type { Readable } from 'node:stream';
import type { Resource } from '@medplum/fhirtypes';
import type { FastifyBaseLogger } from 'fastify';
import type { SearchEngine } from '../search/index.js';
import type { AccessPolicy } from '../smart-auth/index.js';
import type { BatchedTransaction, Store } from '../store/index.js';

/** A FHIR interaction, independent of HTTP: a REST call and a Bundle entry both become one of these. */
export interface FhirRequest {
  method: string;
  /** The path below the FHIR base, without leading slash or query (`Patient/1/_history/2`). */
  path: string;
  query: URLSearchParams;
  headers: FhirRequestHeaders;
  body?: unknown;
  /** How the body was sent, for interactions that accept several formats (PATCH, _search). */
  bodyFormat?: 'resource' | 'json-patch' | 'form';
  /** The FHIR interaction the router found (`read`, `search-type`, `operation`, ...), for the audit record. */
  interaction?: string;
}

export interface FhirRequestHeaders {
  ifMatch?: string;
  ifNoneMatch?: string;
  ifNoneExist?: string;
  ifModifiedSince?: string;
  prefer?: string;
}

export interface FhirResponse {
  status: number;
  headers?: Record<string, string>;
  /** A resource to serialise, or `json`, stored text served without re-serialising. */
  body?: Resource;
  json?: string;
  /** JSON text too large to hold, sent as it is read (a large Bundle's answers). */
  stream?: Readable;
  /** The exact instant of the version answered (`Last-Modified` has whole seconds), for a Bundle entry's `response.lastModified`. */
  lastModified?: string;
}

/** What an interaction runs with: the store, the public base URL and, inside a transaction Bundle, its transaction. */
export interface InteractionContext {
  store: Store;
  search: SearchEngine;
  /** Who is asking and what they may touch, compiled once from the access token. */
  access: AccessPolicy;
  baseUrl: string;
  log: FastifyBaseLogger;
  tx?: BatchedTransaction;
}

export type Interaction = (request: FhirRequest, context: InteractionContext, ...args: string[]) => Promise<FhirResponse>;
