import type { Basic, Extension, Subscription } from '@medplum/fhirtypes';
import { errors, issueAt } from '../errors.js';
import type { SearchEngine } from '../search/index.js';
import { storePolicy } from '../smart-auth/index.js';
import type { Change, Queryable, WriteHook } from '../store/index.js';
import { checkEndpointAddress } from './endpoint-address.js';
import { forgetSubscription, writeState } from './state.js';
import { eventsPerNotification, notifiesWithFocus, parseSubscription, takeSecret, type SubscriptionSpec } from './subscription-spec.js';
import { isTopicResource, parseTopic, type Topic } from './topic.js';
import { findTopic } from './topic-lookup.js';
import { CHANNELS, EXT } from './vocabulary.js';

export interface SubscriptionHookOptions {
  search: SearchEngine;
  allowPrivateCallbacks: boolean;
}

const ACTIVE = ['requested', 'active'];

/** Checks a topic-based subscription's filters against its topic: known types and `canFilterBy`. */
async function checkFilters(tx: Queryable, search: SearchEngine, spec: SubscriptionSpec, topic: Topic): Promise<void> {
  const types = new Set(topic.triggers.map((t) => t.resourceType));
  for (const [i, filter] of spec.filters.entries()) {
    const where = `Subscription._criteria.extension[${i}]`;
    if (!types.has(filter.type)) throw errors.invalidResource([issueAt(where, `The topic is about ${[...types].join(', ')}, not ${filter.type}`)]);
    const allowed = topic.canFilterBy.filter((f) => !f.resourceType || f.resourceType === filter.type).map((f) => f.param);
    for (const name of filter.params.keys()) {
      const param = name.split(':')[0];
      if (allowed.length && !allowed.includes(param)) {
        throw errors.invalidResource([issueAt(where, `The topic cannot filter by "${param}" (canFilterBy: ${allowed.join(', ')})`)]);
      }
    }
    await search.checkCriteria(tx, filter.type, filter.params);
  }
}

/**
 * A topic-based subscription narrows its topic only with `backport-filter-criteria` on `_criteria`.
 * Any other extension there would be a filter this server does not understand; ignoring it would
 * notify more than the client asked for, so the Subscription is refused (the IG: an unsupported
 * Subscription is rejected or adjusted, and cross-version extensions SHOULD NOT be used).
 */
function checkCriteriaExtensions(subscription: Subscription): void {
  const extensions = (subscription as { _criteria?: { extension?: Extension[] } })._criteria?.extension ?? [];
  for (const [i, extension] of extensions.entries()) {
    if (extension.url === EXT.filterCriteria) continue;
    throw errors.invalidResource([
      issueAt(`Subscription._criteria.extension[${i}]`, `Unsupported extension "${extension.url}" on criteria; filters are given with ${EXT.filterCriteria}`),
    ]);
  }
}

/**
 * The status a client's write leaves: a classic subscription is accepted at once (`active`); a
 * topic-based rest-hook stays `requested` until its handshake is accepted, unless it was active
 * already with the same endpoint; a websocket one is active (its handshake goes on binding).
 */
function acceptedStatus(spec: SubscriptionSpec, previous: Subscription | undefined): Subscription['status'] {
  if (!ACTIVE.includes(spec.status)) return spec.status;
  if (spec.flavour === 'classic' || spec.channel.type === 'websocket') return 'active';
  const unchanged = previous?.status === 'active' && previous.channel?.endpoint === spec.channel.endpoint && previous.criteria === spec.topicUrl;
  return unchanged ? 'active' : 'requested';
}

const secrets = new WeakMap<Change, string | null>();

/**
 * Subscriptions on the write path: a client's Subscription is checked (criteria with the search
 * engine, the topic and its filters, the endpoint's address), its status set, its secret taken
 * out of the resource; after the write its state row mirrors it in the same transaction. Topics
 * (Basic) are for admins. Nothing here calls a subscriber: delivery reads the change feed after commit.
 */
export function subscriptionWriteHooks(options: SubscriptionHookOptions): WriteHook[] {
  const { search } = options;
  const subscriptions: WriteHook = {
    name: 'subscriptions',
    beforeWrite: async (tx, change) => {
      if (change.resourceType !== 'Subscription' || !change.resource || !change.access) return;
      const { subscription, secret } = takeSecret(change.resource as Subscription);
      if (secret !== undefined) secrets.set(change, secret === '' ? null : secret);
      const spec = parseSubscription(subscription);
      if (spec.criteria) await search.checkCriteria(tx, spec.criteria.type, spec.criteria.params);
      if (spec.topicUrl) {
        checkCriteriaExtensions(subscription);
        const topic = await findTopic(tx, spec.topicUrl);
        if (!topic) throw errors.invalidResource([issueAt('Subscription.criteria', `Unknown SubscriptionTopic "${spec.topicUrl}"`)]);
        if (topic.status === 'retired') throw errors.invalidResource([issueAt('Subscription.criteria', `The SubscriptionTopic "${spec.topicUrl}" is retired`)]);
        await checkFilters(tx, search, spec, topic);
      }
      if (spec.channel.type === 'rest-hook' && spec.channel.endpoint) await checkEndpointAddress(spec.channel.endpoint, options.allowPrivateCallbacks);
      const status = acceptedStatus(spec, change.previous as Subscription | undefined);
      const next: Subscription = { ...subscription, status };
      if (status !== 'error') delete next.error;
      change.resource = next;
    },
    afterWrite: async (tx, change) => {
      if (change.resourceType !== 'Subscription') return;
      if (!change.resource) {
        await forgetSubscription(tx, change.id);
      } else {
        const subscription = change.resource as Subscription;
        let spec: SubscriptionSpec | undefined;
        try {
          spec = parseSubscription(subscription);
        } catch {
          spec = undefined;
        }
        const status = subscription.status;
        const previousStatus = (change.previous as Subscription | undefined)?.status;
        await writeState(tx, {
          id: change.id,
          created: !change.previous,
          owner: change.access ? storePolicy(change.access) : null,
          secret: secrets.get(change),
          status,
          channel: spec?.channel.type ?? subscription.channel?.type ?? 'unknown',
          heartbeatSeconds: spec?.channel.heartbeatSeconds,
          end: spec?.end,
          eventsPerNotification: spec && eventsPerNotification(spec),
          withFocus: spec && notifiesWithFocus(spec),
          restart: ACTIVE.includes(status) && !(previousStatus && ACTIVE.includes(previousStatus)),
          handshakePending: status === 'requested' && spec?.flavour === 'topic' && spec.channel.type === 'rest-hook',
        });
      }
      await tx.query('SELECT pg_notify($1, $2)', [CHANNELS.subscriptions, change.id]);
    },
  };

  const topics: WriteHook = {
    name: 'subscription-topics',
    beforeWrite: (_tx, change) => {
      if (change.resourceType !== 'Basic') return;
      const isTopic = isTopicResource(change.resource as Basic | undefined) || isTopicResource(change.previous as Basic | undefined);
      if (!isTopic) return;
      if (change.access && !change.access.admin) throw errors.forbidden('SubscriptionTopics are created and changed by administrators (the admin scope)');
      if (change.resource && isTopicResource(change.resource as Basic)) parseTopic({ ...(change.resource as Basic), id: change.id });
    },
    afterWrite: async (tx, change) => {
      if (change.resourceType !== 'Basic') return;
      if (isTopicResource(change.resource as Basic | undefined) || isTopicResource(change.previous as Basic | undefined)) {
        await tx.query('SELECT pg_notify($1, $2)', [CHANNELS.subscriptions, `Basic/${change.id}`]);
      }
    },
  };

  return [subscriptions, topics];
}

/**
 * A committed write wakes this process's matcher (`wake`, once per transaction). Not a NOTIFY sent
 * by the write transaction, as the feed's trigger did: PostgreSQL makes the commits of notifying
 * transactions take turns on one lock, held through each commit's WAL flush, so every write
 * waited for the others' flushes (pgbench, 10 clients: 5,200 inserts/s without, 700–900 with).
 * The other processes need no wake-up: any process may match, this one will, and all of them poll.
 */
export function feedWakeHook(wake: () => void): WriteHook {
  return { name: 'subscription-feed-wake', afterWrite: (tx) => tx.afterCommit(wake) };
}
