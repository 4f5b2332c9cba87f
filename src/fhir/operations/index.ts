import { errors } from '../../errors.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../types.js';
import { metaAddOperation, metaDeleteOperation, metaOperation } from './meta.js';
import { reindexOperation } from './reindex.js';
import { validateOperation } from './validate.js';

export type OperationLevel = 'system' | 'type' | 'instance';

type OperationHandler = (request: FhirRequest, context: InteractionContext, type?: string, id?: string) => Promise<FhirResponse>;

export interface OperationEntry {
  name: string;
  /** The canonical OperationDefinition, named in the CapabilityStatement: R4's, or ours, served at [base]/OperationDefinition/[name]. */
  definition: string | 'own';
  levels: OperationLevel[];
  /** Operations that change state take POST only (operations.html#executing). */
  methods: ('GET' | 'POST')[];
  handler: OperationHandler;
}

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
];

export function runOperation(
  name: string,
  level: OperationLevel,
  request: FhirRequest,
  context: InteractionContext,
  type?: string,
  id?: string,
): Promise<FhirResponse> {
  const operation = OPERATIONS.find((op) => op.name === name && op.levels.includes(level));
  if (!operation) throw errors.unknownOperation(name);
  if (!(operation.methods as string[]).includes(request.method)) {
    throw errors.methodNotAllowed(request.method, request.path, operation.methods);
  }
  return operation.handler(request, context, type, id);
}
