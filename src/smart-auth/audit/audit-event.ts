import type { AuditEvent, AuditEventAgent, AuditEventEntity, Coding } from '@medplum/fhirtypes';
import type { AccessPolicy } from '../policy.js';

const REST = { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' };
const USER_AUTHENTICATION = { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110114', display: 'User Authentication' };
export const INTERACTION_SYSTEM = 'http://hl7.org/fhir/restful-interaction';
const CLIENT_SYSTEM = 'urn:fhir-server:client-id';
const SERVER_NAME = 'fhir-server';

/** AuditEvent.outcome: 0 success, 4 minor failure (the client's), 8 serious failure (the server's). */
export function outcomeOf(status: number): AuditEvent['outcome'] {
  if (status < 400) return '0';
  return status < 500 ? '4' : '8';
}

/** AuditEvent.action by FHIR interaction: Create, Read, Update, Delete, Execute. */
const ACTIONS: Record<string, AuditEvent['action']> = {
  create: 'C',
  read: 'R',
  vread: 'R',
  'history-instance': 'R',
  'history-type': 'R',
  'history-system': 'R',
  'search-type': 'E',
  'search-system': 'E',
  update: 'U',
  patch: 'U',
  delete: 'D',
  transaction: 'E',
  batch: 'E',
  operation: 'E',
  capabilities: 'R',
};

export interface Requester {
  access?: AccessPolicy;
  /** The client id when there is no policy (an authentication event). */
  clientId?: string;
  username?: string;
  address?: string;
}

function agentOf(requester: Requester): AuditEventAgent {
  const access = requester.access;
  const human = Boolean(access?.userId || requester.username);
  const agent: AuditEventAgent = {
    type: {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type',
          code: human ? 'humanuser' : 'dataprocessor',
          display: human ? 'human user' : 'data processor',
        },
      ],
    },
    requestor: true,
    who: access?.fhirUser ? { reference: access.fhirUser } : { identifier: { system: CLIENT_SYSTEM, value: access?.clientId ?? requester.clientId ?? 'anonymous' } },
  };
  if (access?.userId) agent.altId = access.userId;
  if (requester.username) agent.name = requester.username;
  if (requester.address) agent.network = { address: requester.address, type: '2' };
  return agent;
}

function baseEvent(type: Coding, requester: Requester, status: number, description?: string): AuditEvent {
  return {
    resourceType: 'AuditEvent',
    type,
    recorded: new Date().toISOString(),
    outcome: outcomeOf(status),
    ...(description ? { outcomeDesc: description } : {}),
    agent: [agentOf(requester)],
    source: {
      observer: { display: SERVER_NAME },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
    },
  };
}

/** One FHIR interaction as the audit log records it: who, what (the resources or the query), and how it went. */
export interface Interaction {
  interaction: string;
  requester: Requester;
  status: number;
  /** `Type/id` of each resource acted on (several when one transaction changed several). */
  references?: string[];
  /** The query of a search, as sent. */
  query?: string;
  description?: string;
}

/**
 * What of a requester its agent shows (agentOf reads exactly these): requesters with equal keys
 * have equal agents, so their interactions can share a record without comparing agents.
 */
export function requesterKey(requester: Requester): string {
  const access = requester.access;
  return `${access?.fhirUser}\n${access?.clientId ?? requester.clientId}\n${access?.userId}\n${requester.username}\n${requester.address}`;
}

export function referenceEntity(reference: string): AuditEventEntity {
  return { what: { reference } };
}

export function queryEntity(query: string): AuditEventEntity {
  return { query: Buffer.from(query).toString('base64') };
}

/** The audit record of one FHIR interaction. */
export function interactionEvent(input: Interaction): AuditEvent {
  const event = baseEvent(REST, input.requester, input.status, input.description);
  event.subtype = [{ system: INTERACTION_SYSTEM, code: input.interaction }];
  event.action = ACTIONS[input.interaction] ?? 'E';
  const entities = (input.references ?? []).map(referenceEntity);
  if (input.query) entities.push(queryEntity(input.query));
  if (entities.length > 0) event.entity = entities;
  return event;
}

/** Authentication events (login, failed login, token issue, refresh, revoke): DICOM's User Authentication. */
export function authenticationEvent(input: { action: string; requester: Requester; status: number; description?: string; user?: string }): AuditEvent {
  const event = baseEvent(USER_AUTHENTICATION, input.requester, input.status, input.description);
  event.subtype = [{ system: 'urn:fhir-server:authentication-event', code: input.action }];
  event.action = 'E';
  if (input.user) event.entity = [{ what: { reference: input.user } }];
  return event;
}

/**
 * The event with every NUL character in its strings replaced by U+FFFD. What it records can come
 * from the request (a refused client id, a user name), and PostgreSQL's JSON cannot hold a NUL: one
 * such event would fail its whole batch, losing the others with it.
 */
export function withoutNul<T>(value: T): T {
  if (typeof value === 'string') return (value.includes('\0') ? value.replace(/\0/g, '\ufffd') : value) as T;
  if (Array.isArray(value)) return value.map(withoutNul) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, member]) => [key, withoutNul(member)])) as T;
  }
  return value;
}
