import type { Group, Parameters } from '@medplum/fhirtypes';
import { isResourceType, resourceTypes } from '../../../definitions/index.js';
import { errors } from '../../../errors.js';
import { compartmentMembers, isResultParameter } from '../../../search/index.js';
import { grantingScopes } from '../../../smart-auth/index.js';
import type { Database } from '../../../store/index.js';
import { readableCurrent } from '../../access-checks.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../../types.js';
import { inputParameters } from '../parameters.js';
import { createJob, SUPPORTING_TYPES, type ExportLevel, type TypeFilters } from './jobs.js';
import { runnerFor } from './runner.js';

/** `_outputFormat` values the IG asks servers to take; all mean NDJSON of FHIR resources. */
const OUTPUT_FORMATS = new Set(['application/fhir+ndjson', 'application/ndjson', 'ndjson']);
/** Kick-off parameters the IG defines that this server does not run: an error, unless `Prefer: handling=lenient`. */
const UNSUPPORTED = new Set(['_elements', 'patient', 'includeAssociatedData', 'organizeOutputBy', 'allowPartialManifests']);
/** FHIR instant: a time with seconds and a zone. */
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export function statusUrl(baseUrl: string, id: string): string {
  return `${baseUrl}/bulk-export/${id}`;
}

export function fileUrl(baseUrl: string, id: string, type: string, part: number): string {
  return `${baseUrl}/bulk-export/${id}/${type}-${part}.ndjson`;
}

interface KickOffParameters {
  outputFormat: string;
  types?: string[];
  since?: string;
  /** `_typeFilter` values as given: `Type?query`, several in one value separated by commas. */
  typeFilters: string[];
}

/** The kick-off's parameters: from the query (GET), or a Parameters body (POST), never both. */
function kickOffParameters(request: FhirRequest): KickOffParameters {
  const values = new Map<string, string[]>();
  const add = (name: string, value: string) => values.set(name, [...(values.get(name) ?? []), value]);
  for (const [name, value] of request.query) if (!name.startsWith('_format') && name !== '_pretty') add(name, value);
  const body = request.method === 'POST' ? inputParameters(request.body) : undefined;
  for (const parameter of (body as Parameters | undefined)?.parameter ?? []) {
    const value =
      parameter.valueString ?? parameter.valueInstant ?? parameter.valueCode ?? parameter.valueDateTime ?? parameter.valueReference?.reference;
    add(parameter.name as string, value ?? '');
  }
  const lenient = /handling\s*=\s*"?lenient/i.test(request.headers.prefer ?? '');
  for (const name of values.keys()) {
    if (UNSUPPORTED.has(name) && !lenient) throw errors.badRequest(`$export parameter ${name} is not supported by this server`);
  }
  const outputFormat = values.get('_outputFormat')?.[0] ?? 'application/fhir+ndjson';
  if (!OUTPUT_FORMATS.has(outputFormat)) {
    throw errors.badRequest(`_outputFormat "${outputFormat}" is not supported: use application/fhir+ndjson, application/ndjson or ndjson`);
  }
  const typeValues = values.get('_type');
  let types: string[] | undefined;
  if (typeValues) {
    types = [...new Set(typeValues.flatMap((v) => v.split(',')).map((t) => t.trim()).filter(Boolean))];
    const unknown = types.filter((type) => !isResourceType(type));
    if (unknown.length) throw errors.badRequest(`_type names unknown resource types: ${unknown.join(', ')}`);
    if (types.length === 0) throw errors.badRequest('_type is empty');
  }
  const since = values.get('_since')?.[0];
  if (since !== undefined && (!INSTANT.test(since) || Number.isNaN(Date.parse(since)))) {
    throw errors.badRequest(`_since "${since}" is not a FHIR instant (e.g. 2024-01-01T00:00:00Z)`);
  }
  return { outputFormat, types, since, typeFilters: values.get('_typeFilter') ?? [] };
}

/**
 * `_typeFilter` (export.html#_typefilter): FHIR searches, `Type?query`, that select what is exported
 * of their type; a resource is exported when it matches one of its type's. Repeated parameters and
 * comma-separated lists are both read (a comma starts a new search only before `Type?`). Each search's
 * parameters are checked as a search checks them; result parameters (`_count`, `_sort`) and types
 * the export leaves out are refused.
 */
async function typeFilters(given: string[], exported: string[], context: InteractionContext): Promise<TypeFilters | undefined> {
  if (given.length === 0) return undefined;
  const filters: TypeFilters = {};
  for (const filter of given.flatMap((value) => value.split(/,(?=[A-Z][A-Za-z]*\?)/))) {
    const mark = filter.indexOf('?');
    const type = mark < 0 ? filter : filter.slice(0, mark);
    const query = mark < 0 ? '' : filter.slice(mark + 1);
    if (!isResourceType(type)) throw errors.badRequest(`_typeFilter "${filter}" must be a search on a resource type: Type?param=value`);
    if (!exported.includes(type)) throw errors.badRequest(`_typeFilter "${filter}" is on ${type}, which this export does not include`);
    const params = new URLSearchParams(query);
    const shaping = [...params.keys()].filter(isResultParameter);
    if (shaping.length) throw errors.badRequest(`_typeFilter "${filter}" may only select resources; ${shaping.join(', ')} shape a result`);
    await context.search.checkCriteria(context.store.db, type, params);
    (filters[type] ??= []).push(query);
  }
  return filters;
}

/** The Patient ids a Group's members refer to (`Patient/id`, or an absolute URL on this server). */
function groupPatients(group: Group, baseUrl: string): string[] {
  const ids = new Set<string>();
  for (const member of group.member ?? []) {
    let reference = member.entity?.reference ?? '';
    if (reference.startsWith(`${baseUrl}/`)) reference = reference.slice(baseUrl.length + 1);
    const match = /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(reference);
    if (match) ids.add(match[1]);
  }
  return [...ids];
}

/**
 * `$export` kick-off (Bulk Data Access IG v2, export.html) at system, Patient type and Group instance
 * level: checks the request, records a job for any process to run, answers 202 with the status URL.
 */
export async function exportOperation(request: FhirRequest, context: InteractionContext, type?: string, id?: string): Promise<FhirResponse> {
  const level: ExportLevel = type === undefined ? 'system' : type === 'Group' ? 'group' : 'patient';
  if (!/(^|[;,\s])respond-async($|[;,\s])/i.test(request.headers.prefer ?? '')) {
    throw errors.badRequest('$export runs asynchronously: send "Prefer: respond-async"');
  }
  const parameters = kickOffParameters(request);
  const policy = context.access;
  if (!policy.scopes.some((scope) => scope.permissions.has('r')) && !policy.admin) {
    throw errors.insufficientScope('The access token grants no read access: $export needs a read scope (e.g. system/*.rs)');
  }
  const readable = (t: string) => grantingScopes(policy, t, 'r').length > 0;
  const candidates =
    level === 'system' ? [...resourceTypes()] : [...new Set(['Patient', ...compartmentMembers('Patient').keys(), ...SUPPORTING_TYPES])].sort();
  if (parameters.types) {
    const refused = parameters.types.filter((t) => !readable(t));
    if (refused.length) throw errors.insufficientScope(`The access token does not grant read on ${refused.join(', ')}`);
  }
  const types = (parameters.types ?? candidates).filter((t) => readable(t) && candidates.includes(t)).sort();
  if (!parameters.types && types.length === 0) throw errors.insufficientScope('The access token grants read on none of the types this export covers');

  let patients: string[] | undefined;
  if (level === 'group') {
    const group = await readableCurrent(context, 'Group', id as string);
    if (group.deleted) throw errors.notFound('Group', id as string);
    patients = groupPatients(JSON.parse(group.json as string) as Group, context.baseUrl);
  }
  const filters = await typeFilters(parameters.typeFilters, types, context);
  const query = request.query.toString();
  const job = await createJob(context.store.db, {
    policy,
    level,
    groupId: id,
    patients,
    resourceTypes: types,
    since: parameters.since,
    typeFilters: filters,
    requestUrl: `${context.baseUrl}/${request.path}${query ? `?${query}` : ''}`,
    outputFormat: parameters.outputFormat,
  });
  runnerFor(context.store.db as Database)?.kick();
  return {
    status: 202,
    headers: { 'content-location': statusUrl(context.baseUrl, job.id) },
    body: {
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'information', code: 'informational', diagnostics: `Export started; poll ${statusUrl(context.baseUrl, job.id)}` }],
    },
  };
}
