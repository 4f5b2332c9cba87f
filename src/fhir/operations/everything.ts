import { errors } from '../../errors.js';
import { compartmentMembers, withPlusZone } from '../../search/index.js';
import { grantingScopes } from '../../smart-auth/index.js';
import { readableCurrent } from '../access-checks.js';
import { search } from '../interactions/search.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../types.js';
import { OperationInput } from './parameters.js';

/**
 * The query parameters a page of $everything carries on to the next: what the input became
 * (`_since` as `_lastUpdated`), the page size and position, and how resources are rendered.
 */
const CARRIED = ['_type', '_count', '_cursor', '_lastUpdated', '_elements', '_summary'];

/** `_since` is an instant (a full date and time with a zone): the resources changed from then on. */
function lastUpdatedSince(given: string): string {
  const since = withPlusZone(given);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(since) || Number.isNaN(Date.parse(since))) {
    throw errors.invalidSearchValue('_since', given, 'expected an instant such as 2024-01-01T00:00:00Z');
  }
  return `ge${since}`;
}

/**
 * The types asked for that the token may search: a token that reaches only some gets those. Unless
 * `_type` says otherwise, the Patient compartment's but for AuditEvent: the server's records of who
 * accessed the patient are not part of the patient's record (and each $everything would add one to
 * the next one's answer); `_type=AuditEvent` asks for them.
 */
function searchableTypes(context: InteractionContext, requested: string | null): string {
  const members = ['Patient', ...compartmentMembers('Patient').keys()];
  const wanted = requested ? requested.split(',').map((type) => type.trim()).filter(Boolean) : members.filter((type) => type !== 'AuditEvent');
  for (const type of wanted) if (!members.includes(type)) throw errors.invalidSearchValue('_type', type, 'not a type of the Patient compartment');
  const permitted = wanted.filter((type) => grantingScopes(context.access, type, 's').length > 0);
  if (permitted.length === 0) throw errors.insufficientScope('The access token grants search on none of the Patient compartment types');
  return permitted.join(',');
}

/**
 * Patient/[id]/$everything (patient-operation-everything.html): the patient, every resource of its
 * compartment the token may search, and the resources they reference, as a searchset paged like
 * any search (it is the compartment search `Patient/[id]/*` with `_include=*`). At type level,
 * `Patient/$everything`, the same for every patient: the resources of those types the token may
 * search (a patient's token: its own record). Input: `_since`, `_type`, `_count`. `start` and
 * `end` (care dates) are refused: they have no one meaning across the compartment's types, and
 * ignoring them would return more than was asked for.
 */
export async function everythingOperation(request: FhirRequest, context: InteractionContext, id?: string): Promise<FhirResponse> {
  if (id) await readableCurrent(context, 'Patient', id);
  const input = new OperationInput(request);
  for (const name of ['start', 'end']) {
    if (input.values(name).length > 0) throw errors.unsupportedParameter('everything', name, 'use _since, _type, or a search of the compartment with date parameters');
  }
  const params = new URLSearchParams();
  for (const name of CARRIED) {
    const values = input.values(name);
    if (values.length > 0) params.set(name, values.join(','));
  }
  const since = input.value('_since');
  if (since) params.append('_lastUpdated', lastUpdatedSince(since));
  params.set('_type', searchableTypes(context, params.get('_type')));
  params.set('_include', '*');
  const asSearch: FhirRequest = { ...request, method: 'GET', query: params, body: undefined, bodyFormat: undefined };
  return search(asSearch, context, undefined, id ? { type: 'Patient', id, member: '*' } : undefined);
}
