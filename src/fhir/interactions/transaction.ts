import type { Resource } from '@medplum/fhirtypes';
import { errors } from '../../errors.js';
import { isResourceType } from '../../definitions/index.js';
import { findSingleMatch, ifNoneExistCriteria } from '../conditional.js';
import { bundleSource } from '../transaction/bundle-source.js';
import { BundleEntries, type ParsedEntry } from '../transaction/entries.js';
import type { EntryResponses } from '../transaction/entry-responses.js';
import { entryFailure, errorResponse, responseEntryJson } from '../transaction/entry-response.js';
import { rewriteReferences, unresolvedPlaceholder } from '../transaction/references.js';
import { existingResponse, writeResponse } from '../response.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../types.js';
import { newResourceId, type BatchedTransaction, type StoredVersion } from '../../store/index.js';
import { isValidId } from '../ids.js';
import { createResource } from './create.js';

type Dispatch = (request: FhirRequest, context: InteractionContext) => Promise<FhirResponse>;

/** The order in which a transaction processes its entries (http.html#trules). */
const METHOD_ORDER: Record<string, number> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3, HEAD: 3 };

/** What a POST entry turned out to be once its `ifNoneExist` was resolved. */
type PlannedCreate = { kind: 'create'; id: string } | { kind: 'existing'; version: StoredVersion };

/**
 * batch and transaction at POST [base] (http.html#transaction). A batch runs each entry on its own,
 * each with its own outcome. A transaction is one database transaction: all or nothing. Both hold
 * only what describes the entries; each entry's resource is read from the Bundle (in memory, or
 * spooled to disk when large) when the entry runs, and let go after; the answers of a spooled
 * Bundle's entries go to disk too (entry-responses.ts).
 */
export async function batchOrTransaction(request: FhirRequest, context: InteractionContext, dispatch: Dispatch): Promise<FhirResponse> {
  const source = bundleSource(request.body);
  const entries = new BundleEntries(source, context.baseUrl, request.headers.prefer);
  if (source.type === 'batch') return batch(entries, context, dispatch);
  // Read afresh inside the unit of work: a retry after a deadlock must not see the plans and rewrites
  // of the failed attempt, nor its answers. The answers are sent once the transaction has committed.
  let responses: EntryResponses | undefined;
  try {
    await context.store.inTransaction(context.tx, async (tx) => {
      await responses?.discard();
      responses = await transaction(entries, { ...context, tx }, dispatch);
    });
  } catch (error) {
    await responses?.discard();
    throw error;
  }
  return (responses as EntryResponses).bundle('transaction-response');
}

async function batch(bundle: BundleEntries, context: InteractionContext, dispatch: Dispatch): Promise<FhirResponse> {
  const entries = await bundle.parseAll();
  const responses = await bundle.responses();
  try {
    for (const entry of entries) await responses.set(entry.index, responseEntryJson(asAnswered(entry, await runBatchEntry(bundle, entry, context, dispatch))));
  } catch (error) {
    await responses.discard();
    throw error;
  }
  return responses.bundle('batch-response');
}

/**
 * One batch entry; its failure is its own answer. A try, not `.catch`: for an unknown type or route,
 * dispatch throws before it returns a promise.
 */
async function runBatchEntry(bundle: BundleEntries, entry: ParsedEntry, context: InteractionContext, dispatch: Dispatch): Promise<FhirResponse> {
  try {
    return await dispatch(await bundle.request(entry), context);
  } catch (error) {
    return errorResponse(error);
  }
}

/** A HEAD entry is answered as HEAD is over HTTP: the status and headers of a GET, without the resource (an error keeps its outcome). */
function asAnswered(entry: ParsedEntry, response: FhirResponse): FhirResponse {
  return entry.method === 'HEAD' && response.status < 400 ? { ...response, json: undefined, body: undefined } : response;
}

/** A fullUrl names one entry (bdl-7): shared by two, references to it would be ambiguous. */
function checkUniqueFullUrls(entries: ParsedEntry[]): void {
  const seen = new Set<string>();
  for (const { fullUrl, index } of entries) {
    if (!fullUrl) continue;
    if (seen.has(fullUrl)) throw errors.badRequest(`Bundle.entry[${index}]: fullUrl ${fullUrl} is used by more than one entry`);
    seen.add(fullUrl);
  }
}

/**
 * No two entries may change the same resource (http.html#trules). Runs after the identities are
 * planned, so that a conditional PUT counts as the resource it resolved to.
 */
function checkNoDuplicateTargets(entries: ParsedEntry[]): void {
  const seen = new Set<string>();
  for (const entry of entries) {
    if (entry.method === 'GET' || entry.method === 'HEAD' || !entry.id || entry.id.startsWith('$')) continue;
    const target = `${entry.type}/${entry.id}`;
    if (seen.has(target)) throw errors.badRequest(`Bundle.entry[${entry.index}]: ${target} is changed by more than one entry`);
    seen.add(target);
  }
}

/**
 * Decides, before anything is written, which resource each creating entry ends up as, so that
 * entries can reference each other in any order: POSTs get a new id (or the match of their
 * `ifNoneExist`), conditional PUTs the id of their match (or a new one).
 */
async function planIdentities(entries: ParsedEntry[], context: InteractionContext, ids: Map<string, string>) {
  const creates = new Map<number, PlannedCreate>();
  for (const entry of entries) {
    try {
      await planIdentity(entry, context, ids, creates);
    } catch (error) {
      throw entryFailure(error, entry.index, entry.method, entry.path);
    }
  }
  return creates;
}

async function planIdentity(
  entry: ParsedEntry,
  context: InteractionContext,
  ids: Map<string, string>,
  creates: Map<number, PlannedCreate>,
): Promise<void> {
  const { method, type, bodyId } = entry;
  // An unknown type is left to the router, which answers it as it does outside a Bundle (404).
  if (!type || !isResourceType(type) || entry.id?.startsWith('$')) return;
  if (method === 'POST' && !entry.id) {
    const existing = entry.ifNoneExist ? await findSingleMatch(context, type, ifNoneExistCriteria(entry.ifNoneExist, type)) : undefined;
    const plan: PlannedCreate = existing ? { kind: 'existing', version: existing } : { kind: 'create', id: newResourceId() };
    creates.set(entry.index, plan);
    if (entry.fullUrl) ids.set(entry.fullUrl, `${type}/${existing?.id ?? (plan as { id: string }).id}`);
  } else if (method === 'PUT' && entry.criteria !== undefined) {
    // The entry stays a conditional update (same rules as REST); only its id is fixed in advance, so
    // that other entries can reference it: the match's, else the body's, else a new one.
    const match = await findSingleMatch(context, type, entry.criteria);
    if (match && bodyId && bodyId !== match.id) throw errors.idMismatch(match.id, bodyId);
    const id = match?.id ?? bodyId ?? newResourceId();
    entry.id = id;
    entry.assignedId = id;
    if (entry.fullUrl) ids.set(entry.fullUrl, `${type}/${id}`);
  } else if (method === 'PUT' && entry.id && entry.fullUrl) {
    ids.set(entry.fullUrl, `${type}/${entry.id}`);
  }
}

/** The existing or named resources the PUT and PATCH entries change, once their identities are planned. */
function changedResources(entries: ParsedEntry[]): { resourceType: string; id: string }[] {
  return entries
    .filter((e) => (e.method === 'PUT' || e.method === 'PATCH') && e.type && isResourceType(e.type) && e.id && isValidId(e.id))
    .map((e) => ({ resourceType: e.type as string, id: e.id as string }));
}

/** Conditional references (`Patient?identifier=x|y`) must match exactly one resource, or the transaction fails. */
async function resolveConditionalReferences(entries: ParsedEntry[], context: InteractionContext, ids: Map<string, string>): Promise<void> {
  for (const entry of entries) {
    for (const reference of entry.conditionalReferences ?? []) {
      if (ids.has(reference)) continue;
      const [type, criteria] = reference.split('?', 2) as [string, string];
      const matches = await context.search.findMatches(context.tx ?? context.store.db, type, criteria, 2, context.access);
      if (matches.length !== 1) {
        throw entryFailure(errors.unresolvedReference(reference, matches.length), entry.index, entry.method, entry.path);
      }
      ids.set(reference, `${type}/${matches[0].id}`);
    }
  }
}

/** What the entries run with, once planned: the ids of the entries' fullUrls and of the conditional references. */
interface Plan {
  creates: Map<number, PlannedCreate>;
  ids: Map<string, string>;
}

async function runEntries(bundle: BundleEntries, entries: ParsedEntry[], plan: Plan, context: InteractionContext, dispatch: Dispatch, responses: EntryResponses) {
  for (const entry of entries) {
    try {
      const response = await runEntry(bundle, entry, plan, context, dispatch);
      await responses.set(entry.index, responseEntryJson(asAnswered(entry, response)));
    } catch (error) {
      throw entryFailure(error, entry.index, entry.method, entry.path);
    }
  }
}

/** One entry, its resource read again and given its planned id and the identities it references. */
async function runEntry(bundle: BundleEntries, entry: ParsedEntry, plan: Plan, context: InteractionContext, dispatch: Dispatch): Promise<FhirResponse> {
  const request = await bundle.request(entry);
  if (entry.assignedId) request.body = { ...(request.body as object), id: entry.assignedId };
  request.body = rewriteReferences(request.body, plan.ids);
  const placeholder = unresolvedPlaceholder(request.body);
  if (placeholder) throw errors.badRequest(`The reference ${placeholder} is the fullUrl of no entry in this transaction`);
  const create = plan.creates.get(entry.index);
  if (!create) return dispatch(request, context);
  if (create.kind === 'existing') return existingResponse(request, context, create.version);
  const body = request.body as Resource;
  if (body?.resourceType !== entry.type) return dispatch(request, context);
  const result = await createResource(context, body, create.id);
  return writeResponse(request, context, result, `Created ${entry.type}`);
}

/** The transaction's entries run in its unit of work; answers their answers, kept until the commit. */
async function transaction(bundle: BundleEntries, context: InteractionContext, dispatch: Dispatch): Promise<EntryResponses> {
  const entries = await bundle.parseAll();
  checkUniqueFullUrls(entries);
  const responses = await bundle.responses();
  try {
    await runTransaction(bundle, entries, context, dispatch, responses);
  } catch (error) {
    await responses.discard();
    throw error;
  }
  return responses;
}

async function runTransaction(bundle: BundleEntries, entries: ParsedEntry[], context: InteractionContext, dispatch: Dispatch, responses: EntryResponses) {
  const ordered = [...entries].sort((a, b) => METHOD_ORDER[a.method] - METHOD_ORDER[b.method] || a.index - b.index);
  // The DELETEs run before any identity is planned: a conditional create, update or reference must
  // not find what this transaction deletes.
  const deletes = ordered.filter((e) => e.method === 'DELETE');
  await runEntries(bundle, deletes, { creates: new Map(), ids: new Map() }, context, dispatch, responses);

  const ids = new Map<string, string>();
  const creates = await planIdentities(entries, context, ids);
  checkNoDuplicateTargets(entries);
  await resolveConditionalReferences(entries, context, ids);
  await context.store.lockForWrites(context.tx as BatchedTransaction, changedResources(entries));
  await runEntries(bundle, ordered.filter((e) => e.method !== 'DELETE'), { creates, ids }, context, dispatch, responses);
}
