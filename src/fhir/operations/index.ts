import { errors } from '../../errors.js';
import { bookOperation, findOperation, generateSlotsOperation, holdOperation } from '../../resources/index.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../types.js';
import { exportOperation } from './bulk-export/index.js';
import { everythingOperation } from './everything.js';
import { metaAddOperation, metaDeleteOperation, metaOperation } from './meta.js';
import { reindexOperation } from './reindex.js';
import { bindingTokenOperation, eventsOperation, statusOperation } from './subscription.js';
import { expandOperation, lookupOperation, validateCodeOperation } from './terminology.js';
import { validateOperation } from './validate.js';
import { versionsOperation } from './versions.js';

export type OperationLevel = 'system' | 'type' | 'instance';

type OperationHandler = (request: FhirRequest, context: InteractionContext, type?: string, id?: string) => Promise<FhirResponse>;

export interface OperationEntry {
  name: string;
  /** The canonical OperationDefinition, named in the CapabilityStatement: R4's, or ours, served at [base]/OperationDefinition/[name]. */
  definition: string | 'own';
  levels: OperationLevel[];
  /** Operations that change state take POST only (operations.html#executing). */
  methods: ('GET' | 'POST')[];
  /** For type and instance operations of some types only: those types (absent: every type). */
  resourceTypes?: string[];
  handler: OperationHandler;
}

const IHE_SCHEDULING = 'https://profiles.ihe.net/ITI/Scheduling/OperationDefinition';
const SUBSCRIPTIONS_BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition';
const BULK_DATA = 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition';

/** Every operation the server runs; the router and the CapabilityStatement both read this list. */
export const OPERATIONS: OperationEntry[] = [
  {
    name: 'validate',
    definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate',
    levels: ['type', 'instance'],
    methods: ['POST'],
    handler: (req, ctx, type, id) => validateOperation(req, ctx, type as string, id),
  },
  {
    name: 'everything',
    definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything',
    levels: ['type', 'instance'],
    methods: ['GET', 'POST'],
    resourceTypes: ['Patient'],
    handler: (req, ctx, _type, id) => everythingOperation(req, ctx, id),
  },
  {
    name: 'expand',
    definition: 'http://hl7.org/fhir/OperationDefinition/ValueSet-expand',
    levels: ['type', 'instance'],
    methods: ['GET', 'POST'],
    resourceTypes: ['ValueSet'],
    handler: (req, ctx, _type, id) => expandOperation(req, ctx, id),
  },
  {
    name: 'validate-code',
    definition: 'http://hl7.org/fhir/OperationDefinition/ValueSet-validate-code',
    levels: ['type', 'instance'],
    methods: ['GET', 'POST'],
    resourceTypes: ['ValueSet'],
    handler: (req, ctx, _type, id) => validateCodeOperation(req, ctx, id),
  },
  {
    name: 'lookup',
    definition: 'http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup',
    levels: ['type'],
    methods: ['GET', 'POST'],
    resourceTypes: ['CodeSystem'],
    handler: (req, ctx) => lookupOperation(req, ctx),
  },
  {
    name: 'versions',
    definition: 'http://hl7.org/fhir/OperationDefinition/CapabilityStatement-versions',
    levels: ['system'],
    methods: ['GET', 'POST'],
    handler: versionsOperation,
  },
  {
    name: 'meta',
    definition: 'http://hl7.org/fhir/OperationDefinition/Resource-meta',
    levels: ['system', 'type', 'instance'],
    methods: ['GET', 'POST'],
    handler: metaOperation,
  },
  {
    name: 'meta-add',
    definition: 'http://hl7.org/fhir/OperationDefinition/Resource-meta-add',
    levels: ['instance'],
    methods: ['POST'],
    handler: (req, ctx, type, id) => metaAddOperation(req, ctx, type as string, id as string),
  },
  {
    name: 'reindex',
    definition: 'own',
    levels: ['system', 'type', 'instance'],
    methods: ['GET', 'POST'],
    handler: reindexOperation,
  },
  {
    name: 'meta-delete',
    definition: 'http://hl7.org/fhir/OperationDefinition/Resource-meta-delete',
    levels: ['instance'],
    methods: ['POST'],
    handler: (req, ctx, type, id) => metaDeleteOperation(req, ctx, type as string, id as string),
  },
  {
    name: 'generate-slots',
    definition: 'own',
    levels: ['instance'],
    methods: ['POST'],
    resourceTypes: ['Schedule'],
    handler: (req, ctx, _type, id) => generateSlotsOperation(req, ctx, id as string),
  },
  {
    name: 'find',
    definition: `${IHE_SCHEDULING}/appointment-find`,
    levels: ['type'],
    methods: ['GET', 'POST'],
    resourceTypes: ['Appointment'],
    handler: (req, ctx) => findOperation(req, ctx),
  },
  {
    name: 'hold',
    definition: `${IHE_SCHEDULING}/appointment-hold`,
    levels: ['type'],
    methods: ['POST'],
    resourceTypes: ['Appointment'],
    handler: (req, ctx) => holdOperation(req, ctx),
  },
  {
    name: 'book',
    definition: `${IHE_SCHEDULING}/appointment-book`,
    levels: ['type'],
    methods: ['POST'],
    resourceTypes: ['Appointment'],
    handler: (req, ctx) => bookOperation(req, ctx),
  },
  {
    name: 'status',
    definition: `${SUBSCRIPTIONS_BACKPORT}/backport-subscription-status`,
    levels: ['type', 'instance'],
    methods: ['GET', 'POST'],
    resourceTypes: ['Subscription'],
    handler: statusOperation,
  },
  {
    name: 'events',
    definition: `${SUBSCRIPTIONS_BACKPORT}/backport-subscription-events`,
    levels: ['instance'],
    methods: ['GET', 'POST'],
    resourceTypes: ['Subscription'],
    handler: eventsOperation,
  },
  {
    name: 'get-ws-binding-token',
    definition: `${SUBSCRIPTIONS_BACKPORT}/backport-subscription-get-ws-binding-token`,
    levels: ['type', 'instance'],
    methods: ['GET', 'POST'],
    resourceTypes: ['Subscription'],
    handler: bindingTokenOperation,
  },
  // Bulk Data Access IG v2 $export: system, Patient (type) and Group (instance) level; see bulk-export/.
  {
    name: 'export',
    definition: `${BULK_DATA}/export`,
    levels: ['system'],
    methods: ['GET', 'POST'],
    handler: (req, ctx) => exportOperation(req, ctx),
  },
  {
    name: 'export',
    definition: `${BULK_DATA}/patient-export`,
    levels: ['type'],
    methods: ['GET', 'POST'],
    resourceTypes: ['Patient'],
    handler: (req, ctx, type) => exportOperation(req, ctx, type),
  },
  {
    name: 'export',
    definition: `${BULK_DATA}/group-export`,
    levels: ['instance'],
    methods: ['GET', 'POST'],
    resourceTypes: ['Group'],
    handler: (req, ctx, type, id) => exportOperation(req, ctx, type, id),
  },
];

/** Whether an operation answers on this type (system-level operations have none). */
export function operationAppliesTo(operation: OperationEntry, type: string | undefined): boolean {
  return !operation.resourceTypes || (type !== undefined && operation.resourceTypes.includes(type));
}

export function runOperation(
  name: string,
  level: OperationLevel,
  request: FhirRequest,
  context: InteractionContext,
  type?: string,
  id?: string,
): Promise<FhirResponse> {
  const operation = OPERATIONS.find((op) => op.name === name && op.levels.includes(level) && (level === 'system' || operationAppliesTo(op, type)));
  if (!operation) throw errors.unknownOperation(name);
  if (!(operation.methods as string[]).includes(request.method)) {
    throw errors.methodNotAllowed(request.method, request.path, operation.methods);
  }
  return operation.handler(request, context, type, id);
}
