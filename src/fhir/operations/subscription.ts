import type { Bundle, Parameters, Subscription } from '@medplum/fhirtypes';
import { errors } from '../../errors.js';
import { bindingTokenParameters, requireReceiver, subscriptionEvents, subscriptionStatus } from '../../subscriptions/index.js';
import { readableCurrent, requirePermission } from '../access-checks.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../types.js';
import { OperationInput } from './parameters.js';

/** A Subscription the requester may read (404 otherwise, like a read). */
async function readableSubscription(context: InteractionContext, id: string): Promise<Subscription> {
  const current = await readableCurrent(context, 'Subscription', id);
  if (current.deleted || !current.json) throw errors.gone('Subscription', id, current.versionId);
  return JSON.parse(current.json) as Subscription;
}

/** Several Subscriptions by id, as readable by the requester; all must be. */
async function readableSubscriptions(context: InteractionContext, ids: string[]): Promise<Subscription[]> {
  const found: Subscription[] = [];
  for (const id of ids.flatMap((value) => value.split(',')).map((value) => value.replace(/^.*Subscription\//, '').trim()).filter(Boolean)) {
    found.push(await readableSubscription(context, id));
  }
  return found;
}

function statusBundle(context: InteractionContext, statuses: Parameters[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: statuses.length,
    entry: statuses.map((resource) => ({ fullUrl: `urn:uuid:${resource.id}`, resource, search: { mode: 'match' } })),
    link: [{ relation: 'self', url: `${context.baseUrl}/Subscription/$status` }],
  };
}

/**
 * `$status` (Backport IG): the SubscriptionStatus of one Subscription, or at type level of the
 * Subscriptions named by `id` (or every one the requester may search), optionally of some `status`.
 */
export async function statusOperation(request: FhirRequest, context: InteractionContext, _type?: string, id?: string): Promise<FhirResponse> {
  const db = context.tx ?? context.store.db;
  let subscriptions: Subscription[];
  if (id) {
    subscriptions = [await readableSubscription(context, id)];
  } else {
    requirePermission(context, 'Subscription', 's');
    const params = new URLSearchParams({ _count: '1000', _total: 'none' });
    const input = new OperationInput(request);
    const ids = input.values('id');
    if (ids.length) params.set('_id', ids.map((value) => value.replace(/^.*Subscription\//, '')).join(','));
    const statuses = input.values('status');
    if (statuses.length) params.set('status', statuses.join(','));
    const page = await context.search.search(db, { types: ['Subscription'], params, strict: true, access: context.access });
    subscriptions = page.matches.map((match) => JSON.parse(match.json as string) as Subscription);
  }
  const statuses = await Promise.all(subscriptions.map((subscription) => subscriptionStatus(db, context.baseUrl, subscription)));
  return { status: 200, body: statusBundle(context, statuses) };
}

/** `$events` (Backport IG): replay of a Subscription's stored events by event number. */
export async function eventsOperation(request: FhirRequest, context: InteractionContext, _type?: string, id?: string): Promise<FhirResponse> {
  const subscription = await readableSubscription(context, id as string);
  await requireReceiver(context.tx ?? context.store.db, context.access, id as string);
  const input = new OperationInput(request);
  const bundle = await subscriptionEvents(context.tx ?? context.store.db, context.baseUrl, subscription, {
    since: input.value('eventsSinceNumber'),
    until: input.value('eventsUntilNumber'),
    content: input.value('content'),
  });
  return { status: 200, body: bundle };
}

/** `$get-ws-binding-token` (Backport IG): a token for `bind-with-token` on the websocket. */
export async function bindingTokenOperation(request: FhirRequest, context: InteractionContext, _type?: string, id?: string): Promise<FhirResponse> {
  const ids = id ? [id] : new OperationInput(request).values('id');
  if (ids.length === 0) throw errors.badRequest('Name the Subscriptions to bind to with the "id" parameter, or call it on one Subscription');
  const subscriptions = await readableSubscriptions(context, ids);
  for (const subscription of subscriptions) await requireReceiver(context.tx ?? context.store.db, context.access, subscription.id as string);
  return { status: 200, body: await bindingTokenParameters(context.tx ?? context.store.db, context.baseUrl, subscriptions) };
}
