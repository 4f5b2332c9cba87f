import type { OperationOutcome } from '@medplum/fhirtypes';
import { errors } from '../../errors.js';
import { isResourceType } from '../../definitions/index.js';
import { isSupportedParameter, parseCount, parseCriteria, searchResources, type Criterion } from '../../search/index.js';
import { bundleJson, entryJson, pageUrl } from '../bundle.js';
import { renderResource } from '../response.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../types.js';

const DEFAULT_COUNT = 20;
const MAX_COUNT = 1000;

function handlingIsStrict(prefer: string | undefined): boolean {
  return /(?:^|[;,\s])handling\s*=\s*strict/i.test(prefer ?? '');
}

/** The parameters of a search: the query string, plus the form body of `POST [type]/_search`. */
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

/** Splits criteria into those served and those not; unknown ones are warnings, or a 400 under `handling=strict`. */
function servedCriteria(criteria: Criterion[], strict: boolean): { served: Criterion[]; warnings: string[] } {
  const served: Criterion[] = [];
  const warnings: string[] = [];
  for (const criterion of criteria) {
    if (isSupportedParameter(criterion.name) && (!criterion.modifier || criterion.name === 'identifier')) served.push(criterion);
    else if (strict) throw errors.unsupportedCriteria(criterion.modifier ? `${criterion.name}:${criterion.modifier}` : criterion.name);
    else warnings.push(`Search parameter "${criterion.name}${criterion.modifier ? `:${criterion.modifier}` : ''}" is not supported and was ignored`);
  }
  return { served, warnings };
}

function warningOutcome(warnings: string[]): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: warnings.map((text) => ({ severity: 'warning', code: 'not-supported', diagnostics: text })),
  };
}

/** search-type (GET [type]?..., POST [type]/_search) and search-system (GET [base]?_type=...). */
export async function search(request: FhirRequest, context: InteractionContext, type?: string): Promise<FhirResponse> {
  const params = searchParams(request);
  const strict = handlingIsStrict(request.headers.prefer);
  const typeParam = params.get('_type');
  const types = type ? [type] : typeParam ? typeParam.split(',') : [];
  for (const t of types) if (!isResourceType(t)) throw errors.unknownType(t);
  const count = parseCount(params.get('_count'), DEFAULT_COUNT, MAX_COUNT);
  const offset = parseCount(params.get('_offset'), 0, Number.MAX_SAFE_INTEGER);
  const { served, warnings } = servedCriteria(
    parseCriteria(params).filter((c) => c.name !== '_type'),
    strict,
  );
  const withTotal = params.get('_total') !== 'none';

  const { matches, total } = await searchResources(context.tx ?? context.store.db, {
    resourceTypes: types,
    criteria: served,
    count,
    offset,
    withTotal,
  });
  const entries = matches.map((match) => {
    const rendered = renderResource(params, { json: match.json });
    return entryJson({
      fullUrl: `${context.baseUrl}/${match.resourceType}/${match.id}`,
      resourceJson: rendered.json,
      resource: rendered.body,
      search: { mode: 'match' },
    });
  });
  if (warnings.length) entries.push(entryJson({ resource: warningOutcome(warnings), search: { mode: 'outcome' } }));
  const path = request.path.replace(/\/_search$/, '');
  const link = [{ relation: 'self', url: pageUrl(context.baseUrl, path, params, {}) }];
  if (matches.length === count && (total === undefined || offset + count < total)) {
    link.push({ relation: 'next', url: pageUrl(context.baseUrl, path, params, { _offset: String(offset + count) }) });
  }
  if (offset > 0) {
    link.push({ relation: 'previous', url: pageUrl(context.baseUrl, path, params, { _offset: String(Math.max(0, offset - count)) }) });
  }
  return { status: 200, json: bundleJson({ type: 'searchset', total, link }, entries) };
}
