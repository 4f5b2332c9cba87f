import type { Bundle, Parameters, Subscription } from '@medplum/fhirtypes';
import { errors } from '../errors.js';
import type { AccessPolicy } from '../smart-auth/index.js';
import type { Queryable } from '../store/index.js';
import { issueBindingToken } from './binding-tokens.js';
import { notificationBundle, statusParameters } from './notification.js';
import { mayReceive } from './owner.js';
import { readEvents, readState } from './state.js';
import { isTopicCriteria, parseSubscription } from './subscription-spec.js';
import type { PayloadContent } from './vocabulary.js';
import { websocketUrl } from './websocket.js';

/** The most events one `$events` answer carries; ask again from the next number for more. */
export const MAX_EVENTS_PER_QUERY = 1000;

const CONTENTS: readonly PayloadContent[] = ['empty', 'id-only', 'full-resource'];

function contentOf(subscription: Subscription): PayloadContent {
  try {
    return parseSubscription(subscription).channel.content;
  } catch {
    return 'id-only';
  }
}

const topicOf = (subscription: Subscription) => (subscription.criteria && isTopicCriteria(subscription.criteria) ? subscription.criteria.trim() : undefined);

/** Notifications go to the subscription's creator or an administrator (owner.ts): 403 for anyone else. */
export async function requireReceiver(db: Queryable, policy: AccessPolicy, subscriptionId: string): Promise<void> {
  const state = await readState(db, subscriptionId);
  if (!mayReceive(policy, state?.owner)) {
    throw errors.forbidden(`The notifications of Subscription/${subscriptionId} go to the client that created it (or an administrator)`);
  }
}

/** `$status`: the SubscriptionStatus (type `query-status`) of one subscription. */
export async function subscriptionStatus(db: Queryable, fhirBaseUrl: string, subscription: Subscription): Promise<Parameters> {
  const state = await readState(db, subscription.id as string);
  return statusParameters({
    fhirBaseUrl,
    subscriptionId: subscription.id as string,
    topicUrl: topicOf(subscription),
    status: subscription.status,
    type: 'query-status',
    eventsSinceStart: state?.eventsSinceStart ?? 0,
    events: [],
    content: contentOf(subscription),
    error: subscription.status === 'error' ? (subscription.error ?? state?.lastError ?? undefined) : undefined,
  });
}

function eventNumber(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw errors.badRequest(`${name} must be an event number (a non-negative integer)`);
  return Number(value);
}

/**
 * `$events`: the stored events of one subscription with numbers in [eventsSinceNumber,
 * eventsUntilNumber], as a notification Bundle of type `query-event`, in the payload content the
 * subscription asks for unless `content` asks for another.
 */
export async function subscriptionEvents(
  db: Queryable,
  fhirBaseUrl: string,
  subscription: Subscription,
  input: { since?: string; until?: string; content?: string },
): Promise<Bundle> {
  const since = eventNumber(input.since, 'eventsSinceNumber') ?? 1;
  const until = eventNumber(input.until, 'eventsUntilNumber') ?? Number.MAX_SAFE_INTEGER;
  if (input.content !== undefined && !CONTENTS.includes(input.content as PayloadContent)) {
    throw errors.badRequest(`content must be one of ${CONTENTS.join(', ')}`);
  }
  const content = (input.content as PayloadContent | undefined) ?? contentOf(subscription);
  const state = await readState(db, subscription.id as string);
  const events = await readEvents(db, subscription.id as string, Math.max(since, 1), until, MAX_EVENTS_PER_QUERY, content === 'full-resource');
  return notificationBundle({
    fhirBaseUrl,
    subscriptionId: subscription.id as string,
    topicUrl: topicOf(subscription),
    status: subscription.status,
    type: 'query-event',
    eventsSinceStart: state?.eventsSinceStart ?? 0,
    events,
    content,
  });
}

/** `$get-ws-binding-token`: a token to bind a websocket to these (websocket) subscriptions. */
export async function bindingTokenParameters(db: Queryable, fhirBaseUrl: string, subscriptions: Subscription[]): Promise<Parameters> {
  for (const subscription of subscriptions) {
    if (subscription.channel?.type !== 'websocket') throw errors.badRequest(`Subscription/${subscription.id} does not use the websocket channel`);
  }
  const ids = subscriptions.map((s) => s.id as string);
  const { token, expires } = await issueBindingToken(db, ids);
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'token', valueString: token },
      { name: 'expiration', valueDateTime: expires.toISOString() },
      ...ids.map((id) => ({ name: 'subscription', valueString: `${fhirBaseUrl}/Subscription/${id}` })),
      { name: 'websocket-url', valueUrl: websocketUrl(fhirBaseUrl) },
    ],
  };
}
