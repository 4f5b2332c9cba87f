import { errors } from '../../errors.js';
import { parseCount, parseDateRange, withPlusZone } from '../../search/index.js';
import type { HistoryEntry } from '../../store/index.js';
import { bundleJson, entryJson, pageUrl } from '../bundle.js';
import { renderResource } from '../response.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../types.js';
import { etag } from '../versions.js';
import { isUnconfined } from '../../smart-auth/index.js';
import { isUnconfinedFor, readableCurrent, requirePermission } from '../access-checks.js';

const DEFAULT_COUNT = 50;
const MAX_COUNT = 1000;
const HISTORY_PARAMETERS = new Set(['_count', '_since', '_at', '_cursor', '_format', '_pretty', '_summary', '_elements']);

function parseInstantParam(name: string, value: string | null) {
  if (value === null) return undefined;
  const range = parseDateRange(withPlusZone(value));
  if (!range) throw errors.invalidSearchValue(name, value, 'expected a FHIR date, dateTime or instant');
  return range;
}

function historyEntryJson(request: FhirRequest, baseUrl: string, entry: HistoryEntry): string {
  const url = `${entry.resourceType}/${entry.id}`;
  const rendered = entry.json === undefined ? {} : renderResource(request.query, { json: entry.json });
  return entryJson({
    fullUrl: `${baseUrl}/${url}`,
    resourceJson: rendered.json,
    resource: rendered.body,
    request: { method: entry.method, url: entry.method === 'POST' ? entry.resourceType : url },
    response: {
      // As the REST interactions answered: a create 201 (a PUT that created the resource too), an
      // update, patch or delete 200. A PUT that recreated a deleted resource shows as 200: telling
      // would need the version before it.
      status: entry.method === 'POST' || (entry.method === 'PUT' && entry.versionId === 1) ? '201 Created' : '200 OK',
      etag: etag(entry.versionId),
      lastModified: entry.lastUpdated.toISOString(),
    },
  });
}

/** What history the requester may see: one readable resource's; or a type's, or all, through their access rule. */
async function visibleHistory(context: InteractionContext, type?: string, id?: string) {
  if (type && id) {
    await readableCurrent(context, type, id);
    return undefined;
  }
  if (type) requirePermission(context, type, 'r');
  else if (!context.access.scopes.some((scope) => scope.permissions.has('r'))) throw errors.insufficientScope('The access token grants no read');
  if (type && isUnconfinedFor(context, type, 'r')) return undefined;
  // Unfiltered only for an admin with an unconfined wildcard: a wildcard alone does not reach audit records.
  const everything = context.access.admin && context.access.scopes.some((scope) => scope.resourceType === '*' && scope.permissions.has('r') && isUnconfined(scope));
  if (!type && everything) return undefined;
  return context.search.accessFilter(context.tx ?? context.store.db, context.access, type ? [type] : [], ['r']);
}

/**
 * history at instance, type and system level (http.html#history): newest first, `_since`, `_at`,
 * `_count`, and `next` links that continue from a change-feed position.
 */
export async function history(request: FhirRequest, context: InteractionContext, type?: string, id?: string): Promise<FhirResponse> {
  const { query } = request;
  for (const name of query.keys()) {
    if (!HISTORY_PARAMETERS.has(name)) throw errors.badRequest(`Unknown history parameter "${name}"`);
  }
  const count = parseCount(query.get('_count'), DEFAULT_COUNT, MAX_COUNT);
  const since = parseInstantParam('_since', query.get('_since'))?.start;
  const at = parseInstantParam('_at', query.get('_at'));
  const cursor = query.get('_cursor');
  if (cursor !== null && !/^\d+$/.test(cursor)) throw errors.invalidSearchValue('_cursor', cursor, 'not a page of this history');
  const visible = await visibleHistory(context, type, id);
  const rows = await context.store.history(
    { resourceType: type, id, since, at, count: count + 1, before: cursor === null ? undefined : Number(cursor), visible },
    context.tx,
  );
  const page = rows.slice(0, count);
  const link = [{ relation: 'self', url: pageUrl(context.baseUrl, request.path, query, {}) }];
  if (rows.length > count && page.length > 0) {
    link.push({ relation: 'next', url: pageUrl(context.baseUrl, request.path, query, { _cursor: String(page[page.length - 1].seq) }) });
  }
  const entries = page.map((entry) => historyEntryJson(request, context.baseUrl, entry));
  return { status: 200, json: bundleJson({ type: 'history', link }, entries) };
}
