import type { Extension, Subscription } from '@medplum/fhirtypes';
import { isResourceType } from '../definitions/index.js';
import { errors, issueAt } from '../errors.js';
import { EXT, type PayloadContent } from './vocabulary.js';

export type Flavour = 'classic' | 'topic';
export type SubscriptionStatus = 'requested' | 'active' | 'error' | 'off';

/** A search on one type: classic criteria, or one backport filter. */
export interface TypedSearch {
  type: string;
  params: URLSearchParams;
  text: string;
}

export interface ChannelSpec {
  type: string;
  endpoint?: string;
  /** `Subscription.channel.header`, split into name and value. */
  headers: [string, string][];
  /** The MIME type of notification bodies; absent: classic rest-hooks carry no body. */
  payload?: string;
  /** How much of the focus resources a topic notification carries. */
  content: PayloadContent;
  heartbeatSeconds?: number;
  timeoutSeconds: number;
  maxCount: number;
}

/**
 * A Subscription as the server works with it. Classic R4 subscriptions have a search as criteria;
 * topic-based ones (Backport IG) have a topic's canonical URL, with filters in
 * `backport-filter-criteria` extensions on `criteria`.
 */
export interface SubscriptionSpec {
  id: string;
  flavour: Flavour;
  status: SubscriptionStatus;
  end?: Date;
  criteria?: TypedSearch;
  topicUrl?: string;
  filters: TypedSearch[];
  channel: ChannelSpec;
}

export const CHANNEL_TYPES = ['rest-hook', 'websocket'] as const;
const JSON_PAYLOADS = ['application/fhir+json', 'application/json', 'application/json+fhir'];
const CONTENTS: readonly PayloadContent[] = ['empty', 'id-only', 'full-resource'];
/** The longest a rest-hook POST may take; a subscription's `backport-timeout` is capped to it. */
export const MAX_TIMEOUT_SECONDS = 60;
export const DEFAULT_TIMEOUT_SECONDS = 10;
/** The most events one notification bundle carries, whatever `backport-max-count` asks. */
export const MAX_EVENTS_PER_NOTIFICATION = 100;
const HEADER = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\r\n]*)$/;

const invalid = (expression: string, text: string) => errors.invalidResource([issueAt(expression, text)]);

const extensionValue = (extensions: Extension[] | undefined, url: string): Extension | undefined => extensions?.find((e) => e.url === url);

/** `Type?a=1&b=2` (or just `Type`) as a search on one type. */
export function parseTypedSearch(text: string, expression: string): TypedSearch {
  const mark = text.indexOf('?');
  const type = (mark < 0 ? text : text.slice(0, mark)).trim();
  if (!isResourceType(type)) throw invalid(expression, `"${text}" must be a search on one resource type: Type?param=value`);
  return { type, params: new URLSearchParams(mark < 0 ? '' : text.slice(mark + 1)), text };
}

export function isTopicCriteria(criteria: string): boolean {
  return /^(https?:|urn:)/i.test(criteria.trim());
}

function positiveInteger(value: number | undefined, expression: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 0) throw invalid(expression, 'must be a non-negative integer');
  return value;
}

function parseChannel(subscription: Subscription, flavour: Flavour): ChannelSpec {
  const channel = subscription.channel;
  const type = channel?.type;
  if (!type) throw invalid('Subscription.channel.type', 'channel.type is required');
  const headers = (channel.header ?? []).map((header, i): [string, string] => {
    const match = HEADER.exec(header);
    if (!match) throw invalid(`Subscription.channel.header[${i}]`, 'a header is "Name: value" on one line');
    return [match[1], match[2]];
  });
  const payload = channel.payload;
  if (payload !== undefined && !JSON_PAYLOADS.includes(payload.split(';')[0].trim().toLowerCase())) {
    throw invalid('Subscription.channel.payload', `payload "${payload}" is not served; use application/fhir+json`);
  }
  const payloadExtensions = (channel as { _payload?: { extension?: Extension[] } })._payload?.extension;
  const content = (extensionValue(payloadExtensions, EXT.payloadContent)?.valueCode ?? (flavour === 'topic' ? 'id-only' : 'full-resource')) as PayloadContent;
  if (!CONTENTS.includes(content)) throw invalid('Subscription.channel.payload', `payload content "${content}" is not one of ${CONTENTS.join(', ')}`);
  const heartbeat = positiveInteger(extensionValue(channel.extension, EXT.heartbeatPeriod)?.valueUnsignedInt, 'Subscription.channel.extension');
  const timeout = positiveInteger(extensionValue(channel.extension, EXT.timeout)?.valueUnsignedInt, 'Subscription.channel.extension');
  const maxCount = positiveInteger(extensionValue(channel.extension, EXT.maxCount)?.valuePositiveInt, 'Subscription.channel.extension');
  return {
    type,
    endpoint: channel.endpoint,
    headers,
    payload,
    content,
    heartbeatSeconds: heartbeat && heartbeat > 0 ? heartbeat : undefined,
    timeoutSeconds: Math.min(timeout && timeout > 0 ? timeout : DEFAULT_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS),
    maxCount: Math.min(Math.max(maxCount ?? 1, 1), MAX_EVENTS_PER_NOTIFICATION),
  };
}

/** Reads a Subscription; a 400 naming the element when it cannot be served as written. */
export function parseSubscription(subscription: Subscription): SubscriptionSpec {
  const criteria = subscription.criteria?.trim();
  if (!criteria) throw invalid('Subscription.criteria', 'criteria is required');
  const flavour: Flavour = isTopicCriteria(criteria) ? 'topic' : 'classic';
  const criteriaExtensions = (subscription as { _criteria?: { extension?: Extension[] } })._criteria?.extension ?? [];
  const filters = criteriaExtensions
    .filter((e) => e.url === EXT.filterCriteria)
    .map((e, i) => parseTypedSearch(e.valueString ?? '', `Subscription._criteria.extension[${i}]`));
  if (flavour === 'classic' && filters.length) {
    throw invalid('Subscription._criteria', 'backport-filter-criteria applies to topic-based subscriptions (criteria is a topic canonical URL)');
  }
  const channel = parseChannel(subscription, flavour);
  if (!(CHANNEL_TYPES as readonly string[]).includes(channel.type)) {
    throw invalid('Subscription.channel.type', `channel type "${channel.type}" is not supported here (${CHANNEL_TYPES.join(', ')})`);
  }
  if (channel.type === 'rest-hook') {
    let url: URL | undefined;
    try {
      url = channel.endpoint ? new URL(channel.endpoint) : undefined;
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw invalid('Subscription.channel.endpoint', 'a rest-hook needs an http(s) endpoint URL');
    }
  }
  const end = subscription.end ? new Date(subscription.end) : undefined;
  return {
    id: subscription.id as string,
    flavour,
    status: subscription.status as SubscriptionStatus,
    end: end && !Number.isNaN(end.getTime()) ? end : undefined,
    criteria: flavour === 'classic' ? parseTypedSearch(criteria, 'Subscription.criteria') : undefined,
    topicUrl: flavour === 'topic' ? criteria : undefined,
    filters,
    channel,
  };
}

/** Events one rest-hook notification carries at most: one for a classic subscription (its payload is one resource), `max-count` for a topic's. */
export function eventsPerNotification(spec: SubscriptionSpec): number {
  return spec.flavour === 'classic' ? 1 : spec.channel.maxCount;
}

/** Whether a rest-hook notification carries the versions its events are about: a classic payload, or a topic's `full-resource` content. */
export function notifiesWithFocus(spec: SubscriptionSpec): boolean {
  return spec.flavour === 'classic' ? Boolean(spec.channel.payload) : spec.channel.content === 'full-resource';
}

/** The secret given in the channel's extension: a string sets it, an empty one removes it, none keeps it. */
export function takeSecret(subscription: Subscription): { subscription: Subscription; secret?: string } {
  const extensions = subscription.channel?.extension ?? [];
  const given = extensions.find((e) => e.url === EXT.secret);
  if (!given) return { subscription };
  const rest = extensions.filter((e) => e.url !== EXT.secret);
  const channel = { ...subscription.channel, extension: rest.length ? rest : undefined };
  if (!channel.extension) delete channel.extension;
  return { subscription: { ...subscription, channel }, secret: given.valueString ?? '' };
}
