import { deepEquals } from '@medplum/core';
import type { Basic, Extension } from '@medplum/fhirtypes';
import type { Store } from '../store/index.js';
import { OWN_TOPIC_BASE, TOPIC_CODE, TOPIC_EXT } from './vocabulary.js';

interface TopicDefinition {
  id: string;
  title: string;
  description: string;
  resource: string;
  interactions: ('create' | 'update' | 'delete')[];
  fhirPath?: string;
  filters: { param: string; description: string }[];
}

/** Becomes status `x` (it was not `x` before, or the resource is new). */
const becomes = (status: string) => `%current.status = '${status}' and (%previous.empty() or %previous.status != '${status}')`;

const APPOINTMENT_FILTERS = [
  { param: 'actor', description: 'Any participant: patient, practitioner, location, device...' },
  { param: 'patient', description: 'The patient taking part' },
  { param: 'practitioner', description: 'The practitioner taking part' },
  { param: 'location', description: 'The location of the appointment' },
  { param: 'service-type', description: 'The kind of service' },
  { param: 'date', description: 'When the appointment is' },
];
const MEDICATION_REQUEST_FILTERS = [
  { param: 'patient', description: 'The patient the medication is for' },
  { param: 'requester', description: 'Who prescribed it' },
  { param: 'status', description: 'The status of the prescription' },
  { param: 'intent', description: 'proposal | plan | order | ...' },
  { param: 'code', description: 'The medication code' },
];
const INVOICE_FILTERS = [
  { param: 'patient', description: 'The patient the invoice is about' },
  { param: 'subject', description: 'The subject of the invoice' },
  { param: 'issuer', description: 'Who issued it' },
  { param: 'recipient', description: 'Who it is addressed to' },
];

/** The topics of the clinic workflows this server ships (issue #5). */
export const CLINIC_TOPICS: TopicDefinition[] = [
  {
    id: 'appointment-booked',
    title: 'Appointment booked',
    description: 'An Appointment becomes booked (created booked, or changed to booked).',
    resource: 'Appointment',
    interactions: ['create', 'update'],
    fhirPath: becomes('booked'),
    filters: APPOINTMENT_FILTERS,
  },
  {
    id: 'appointment-cancelled',
    title: 'Appointment cancelled',
    description: 'An Appointment becomes cancelled.',
    resource: 'Appointment',
    interactions: ['create', 'update'],
    fhirPath: becomes('cancelled'),
    filters: APPOINTMENT_FILTERS,
  },
  {
    id: 'medicationrequest-created',
    title: 'Medication request created',
    description: 'A MedicationRequest is created.',
    resource: 'MedicationRequest',
    interactions: ['create'],
    filters: MEDICATION_REQUEST_FILTERS,
  },
  {
    id: 'medicationrequest-status-changed',
    title: 'Medication request status changed',
    description: "A MedicationRequest's status changes (e.g. active to completed, or cancelled).",
    resource: 'MedicationRequest',
    interactions: ['update'],
    fhirPath: '%previous.exists() and %previous.status != %current.status',
    filters: MEDICATION_REQUEST_FILTERS,
  },
  {
    id: 'invoice-issued',
    title: 'Invoice issued',
    description: 'An Invoice becomes issued.',
    resource: 'Invoice',
    interactions: ['create', 'update'],
    fhirPath: becomes('issued'),
    filters: INVOICE_FILTERS,
  },
];

export function topicUrl(id: string): string {
  return `${OWN_TOPIC_BASE}/${id}`;
}

/** A topic in the IG's R4 representation (a Basic, like the IG's `r4-encounter-complete` example). */
export function topicResource(definition: TopicDefinition): Basic {
  const trigger: Extension[] = [
    { url: 'description', valueMarkdown: definition.description },
    { url: 'resource', valueUri: `http://hl7.org/fhir/StructureDefinition/${definition.resource}` },
    ...definition.interactions.map((code) => ({ url: 'supportedInteraction', valueCode: code })),
    ...(definition.fhirPath ? [{ url: 'fhirPathCriteria', valueString: definition.fhirPath }] : []),
  ];
  return {
    resourceType: 'Basic',
    id: definition.id,
    extension: [
      { url: TOPIC_EXT.url, valueUri: topicUrl(definition.id) },
      { url: TOPIC_EXT.version, valueString: '1.0.0' },
      { url: TOPIC_EXT.name, valueString: definition.id.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase()) },
      { url: TOPIC_EXT.title, valueString: definition.title },
      { url: TOPIC_EXT.description, valueMarkdown: definition.description },
      { url: TOPIC_EXT.resourceTrigger[0], extension: trigger },
      ...definition.filters.map((filter) => ({
        url: TOPIC_EXT.canFilterBy[0],
        extension: [
          { url: 'description', valueMarkdown: filter.description },
          { url: 'resource', valueUri: definition.resource },
          { url: 'filterParameter', valueString: filter.param },
        ],
      })),
      {
        url: TOPIC_EXT.notificationShape[0],
        extension: [{ url: 'resource', valueUri: definition.resource }],
      },
    ],
    modifierExtension: [{ url: TOPIC_EXT.status, valueCode: 'active' }],
    code: { coding: [{ ...TOPIC_CODE }] },
  };
}

/** Stores (or brings up to date) the shipped topics through the write path, as the server's own writes. */
export async function storeClinicTopics(store: Store): Promise<void> {
  for (const definition of CLINIC_TOPICS) {
    const topic = topicResource(definition);
    const current = await store.read('Basic', definition.id);
    if (current?.json && !current.deleted) {
      const { meta: _meta, ...stored } = JSON.parse(current.json) as Basic;
      if (deepEquals(stored, topic)) continue;
    }
    await store.write({ operation: 'update', resourceType: 'Basic', id: definition.id, next: () => topic });
  }
}
