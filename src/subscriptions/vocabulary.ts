/** The URLs of the Subscriptions R5 Backport IG (STU 1.1) on R4, and our own, used across the folder. */

const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';

export const BACKPORT_NOTIFICATION_PROFILE = `${BACKPORT}/backport-subscription-notification-r4`;
export const BACKPORT_STATUS_PROFILE = `${BACKPORT}/backport-subscription-status-r4`;

export const EXT = {
  filterCriteria: `${BACKPORT}/backport-filter-criteria`,
  payloadContent: `${BACKPORT}/backport-payload-content`,
  heartbeatPeriod: `${BACKPORT}/backport-heartbeat-period`,
  timeout: `${BACKPORT}/backport-timeout`,
  maxCount: `${BACKPORT}/backport-max-count`,
  /** Ours: the HMAC-SHA256 key of rest-hook deliveries, on `Subscription.channel`; write-only. */
  secret: 'http://fhir-server.example/StructureDefinition/subscription-secret',
} as const;

/** SubscriptionTopic on R4, as the IG represents it: a Basic with cross-version extensions. */
export const TOPIC_CODE = { system: 'http://hl7.org/fhir/fhir-types', code: 'SubscriptionTopic' } as const;
const R5 = 'http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic';
const R4B = 'http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic';
export const TOPIC_EXT = {
  url: `${R5}.url`,
  version: `${R5}.version`,
  name: `${R5}.name`,
  title: `${R5}.title`,
  date: `${R5}.date`,
  description: `${R5}.description`,
  status: `${R5}.status`,
  /** The IG's R4 example names the backbone extensions with the R4B prefix; both are read. */
  resourceTrigger: [`${R4B}.resourceTrigger`, `${R5}.resourceTrigger`],
  canFilterBy: [`${R4B}.canFilterBy`, `${R5}.canFilterBy`],
  notificationShape: [`${R4B}.notificationShape`, `${R5}.notificationShape`],
} as const;

/** The canonical base of the topics this server ships (independent of BASE_URL, so every process agrees). */
export const OWN_TOPIC_BASE = 'http://fhir-server.example/SubscriptionTopic';

/**
 * The IG's CapabilityStatement extension (on `rest.resource` Subscription) naming one supported topic
 * canonical; clients such as Inferno read it for topic discovery on R4 (components.html).
 */
export const TOPIC_CANONICAL_EXTENSION = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/capabilitystatement-subscriptiontopic-canonical';

/** The CapabilityStatement extension naming the websocket endpoint (CONTRACT.md). */
export const WEBSOCKET_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/capabilitystatement-websocket';

/** Where the websocket is served, below the server's origin. */
export const WEBSOCKET_PATH = '/fhir/subscriptions/ws';

/** The header carrying the HMAC-SHA256 of a rest-hook body, when the Subscription has a secret. */
export const SIGNATURE_HEADER = 'x-hub-signature-256';

/** PostgreSQL notification channels; they only wake readers, the tables are the record. */
export const CHANNELS = {
  /** Events were added for these subscriptions (payload: ids, comma separated, or `*`). */
  events: 'fhir_subscription_events',
  /** A Subscription or topic changed. */
  subscriptions: 'fhir_subscriptions_changed',
} as const;

export type NotificationType = 'handshake' | 'heartbeat' | 'event-notification' | 'query-status' | 'query-event';
export type PayloadContent = 'empty' | 'id-only' | 'full-resource';
