import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Parameters, ParametersParameter } from '@medplum/fhirtypes';
import type { SubscriptionEvent } from './state.js';
import { BACKPORT_NOTIFICATION_PROFILE, BACKPORT_STATUS_PROFILE, type NotificationType, type PayloadContent } from './vocabulary.js';

/** What a SubscriptionStatus says (Backport IG, R4: a `Parameters`). */
export interface StatusInput {
  fhirBaseUrl: string;
  subscriptionId: string;
  topicUrl?: string;
  status: string;
  type: NotificationType;
  eventsSinceStart: number;
  events: SubscriptionEvent[];
  content: PayloadContent;
  error?: string;
}

const METHOD = { create: 'POST', update: 'PUT', delete: 'DELETE' } as const;
const RESPONSE = { create: '201', update: '200', delete: '204' } as const;

/** The SubscriptionStatus of a notification or a `$status` answer. */
export function statusParameters(input: StatusInput): Parameters {
  const parameter: ParametersParameter[] = [
    { name: 'subscription', valueReference: { reference: `${input.fhirBaseUrl}/Subscription/${input.subscriptionId}` } },
  ];
  // The topic "SHOULD NOT be present when using empty payloads" (backport-subscription-status-r4, parameter:topic).
  if (input.topicUrl && input.content !== 'empty') parameter.push({ name: 'topic', valueCanonical: input.topicUrl });
  parameter.push(
    { name: 'status', valueCode: input.status },
    { name: 'type', valueCode: input.type },
    { name: 'events-since-subscription-start', valueString: String(input.eventsSinceStart) },
  );
  for (const event of input.events) {
    const part: ParametersParameter[] = [
      { name: 'event-number', valueString: String(event.eventNumber) },
      { name: 'timestamp', valueInstant: new Date(event.occurred).toISOString() },
    ];
    // An empty payload names no resource at all (payloads.html#empty).
    if (input.content !== 'empty') {
      part.push({ name: 'focus', valueReference: { reference: `${input.fhirBaseUrl}/${event.resourceType}/${event.resourceId}` } });
    }
    parameter.push({ name: 'notification-event', part });
  }
  if (input.error) parameter.push({ name: 'error', valueCodeableConcept: { text: input.error } });
  return { resourceType: 'Parameters', id: randomUUID(), meta: { profile: [BACKPORT_STATUS_PROFILE] }, parameter };
}

/**
 * A notification Bundle (type `history`): the SubscriptionStatus first, then one entry per event
 * for `id-only` (its URL) and `full-resource` (the version that triggered it; a deletion has none).
 */
export function notificationBundle(input: StatusInput): Bundle {
  const status: BundleEntry = {
    fullUrl: `urn:uuid:${randomUUID()}`,
    resource: statusParameters(input),
    request: { method: 'GET', url: `${input.fhirBaseUrl}/Subscription/${input.subscriptionId}/$status` },
    response: { status: '200' },
  };
  const entries: BundleEntry[] = [status];
  if (input.content !== 'empty') {
    for (const event of input.events) {
      const url = `${event.resourceType}/${event.resourceId}`;
      const resource = input.content === 'full-resource' ? event.focus : undefined;
      entries.push({
        fullUrl: `${input.fhirBaseUrl}/${url}`,
        ...(resource ? { resource } : {}),
        request: { method: METHOD[event.interaction], url },
        response: { status: RESPONSE[event.interaction], etag: `W/"${event.versionId}"`, lastModified: new Date(event.occurred).toISOString() },
      });
    }
  }
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    meta: { profile: [BACKPORT_NOTIFICATION_PROFILE] },
    type: 'history',
    timestamp: new Date().toISOString(),
    entry: entries,
  };
}
