import type { OperationOutcome } from '@medplum/fhirtypes';
import { errors } from '../../errors.js';
import { isResourceType } from '../../definitions/index.js';
import { compartmentMembers, type SearchPage } from '../../search/index.js';
import { bundleJson, entryJson, pageUrl } from '../bundle.js';
import { renderResource } from '../response.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../types.js';
import { requireAnySearch, requirePermission } from '../access-checks.js';

function handlingIsStrict(prefer: string | undefined): boolean {
  return /(?:^|[;,\s])handling\s*=\s*strict/i.test(prefer ?? '');
}

/** The parameters of a search: the query string, plus the form body of `POST [type]/_search` (search.html#search). */
function searchParams(request: FhirRequest): URLSearchParams {
  const params = new URLSearchParams(request.query);
  if (request.method === 'POST') {
    if (request.body !== undefined && request.bodyFormat !== 'form') {
      throw errors.unsupportedMediaType('POST _search takes application/x-www-form-urlencoded');
    }
    for (const [name, value] of (request.body as URLSearchParams | undefined) ?? []) params.append(name, value);
  }
  return params;
}

function requestedTypes(params: URLSearchParams, fixed: string | undefined): string[] {
  if (fixed) return [fixed];
  const types = (params.get('_type') ?? '').split(',').map((t) => t.trim()).filter(Boolean);
  // A bad `_type` value is a bad parameter (400), not an unknown endpoint (404).
  for (const type of types) if (!isResourceType(type)) throw errors.invalidSearchValue('_type', type, 'not a resource type');
  return types;
}

function ignoredOutcome(ignored: SearchPage['ignored']): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: ignored.map(({ message }) => ({ severity: 'warning', code: 'not-supported', diagnostics: message })) };
}

/** The parameters the search used: the self and paging links name only those (search.html#errors). */
function usedParams(params: URLSearchParams, ignored: SearchPage['ignored']): URLSearchParams {
  if (ignored.length === 0) return params;
  const used = new URLSearchParams(params);
  for (const { name } of ignored) used.delete(name);
  return used;
}

function searchBundle(context: InteractionContext, path: string, params: URLSearchParams, page: SearchPage): string {
  const entry = (mode: 'match' | 'include') => (version: SearchPage['matches'][number]) => {
    const rendered = renderResource(params, { json: version.json });
    return entryJson({
      fullUrl: `${context.baseUrl}/${version.resourceType}/${version.id}`,
      resourceJson: rendered.json,
      resource: rendered.body,
      search: { mode },
    });
  };
  const entries = [...page.matches.map(entry('match')), ...page.included.map(entry('include'))];
  if (page.ignored.length) entries.push(entryJson({ resource: ignoredOutcome(page.ignored), search: { mode: 'outcome' } }));
  const used = usedParams(params, page.ignored);
  const link = [{ relation: 'self', url: pageUrl(context.baseUrl, path, used, {}) }];
  if (!page.countOnly) link.push({ relation: 'first', url: pageUrl(context.baseUrl, path, used, { _cursor: undefined }) });
  if (page.previous) link.push({ relation: 'previous', url: pageUrl(context.baseUrl, path, used, { _cursor: page.previous }) });
  if (page.next) link.push({ relation: 'next', url: pageUrl(context.baseUrl, path, used, { _cursor: page.next }) });
  return bundleJson({ type: 'searchset', total: page.total, link }, entries);
}

/**
 * search-type (`GET [type]?...`, `POST [type]/_search`), search-system (`GET [base]?_type=...`) and
 * compartment search (`GET Patient/123/Observation`, `GET Patient/123/*`).
 */
export async function search(
  request: FhirRequest,
  context: InteractionContext,
  type?: string,
  compartment?: { type: string; id: string; member: string },
): Promise<FhirResponse> {
  const params = searchParams(request);
  let types = requestedTypes(params, type);
  if (compartment) {
    const members = [...compartmentMembers(compartment.type).keys(), compartment.type];
    if (compartment.member !== '*' && !members.includes(compartment.member)) {
      throw errors.badRequest(`The ${compartment.type} compartment has no ${compartment.member} members`);
    }
    types = compartment.member === '*' ? (types.length ? types.filter((t) => members.includes(t)) : members) : [compartment.member];
  }
  if (types.length === 0) requireAnySearch(context);
  else for (const t of types) requirePermission(context, t, 's');
  const page = await context.search.search(context.tx ?? context.store.db, {
    types,
    params,
    strict: handlingIsStrict(request.headers.prefer),
    compartment: compartment && { type: compartment.type, id: compartment.id },
    access: context.access,
  });
  const path = request.path.replace(/\/?_search$/, '');
  return { status: 200, json: searchBundle(context, path, params, page) };
}
