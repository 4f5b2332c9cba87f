import { getSearchParameters } from '@medplum/core';
import type { CapabilityStatement, CapabilityStatementRestResource, ResourceType } from '@medplum/fhirtypes';
import { resourceTypes } from '../../definitions/index.js';
import { OPERATIONS } from '../operations/index.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../types.js';

const SERVER_VERSION = '0.1.0';

function operationsAt(level: 'system' | 'type' | 'instance') {
  return OPERATIONS.filter((op) => op.levels.includes(level)).map((op) => ({ name: op.name, definition: op.definition }));
}

/** What search serves today (issue #3 widens it): `_id`, and `identifier` where the type defines it. */
function searchParams(type: string): CapabilityStatementRestResource['searchParam'] {
  const params: CapabilityStatementRestResource['searchParam'] = [
    { name: '_id', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/Resource-id', documentation: 'Logical id of this artifact' },
  ];
  const identifier = getSearchParameters(type)?.identifier;
  if (identifier) {
    params.push({ name: 'identifier', type: 'token', definition: identifier.url, documentation: 'system|value, |value, system| or value (no modifiers)' });
  }
  return params;
}

function resourceCapability(type: string): CapabilityStatementRestResource {
  const typeOperations = [...new Map([...operationsAt('type'), ...operationsAt('instance')].map((op) => [op.name, op])).values()];
  return {
    type: type as ResourceType,
    profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
    interaction: ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'].map(
      (code) => ({ code }) as { code: 'read' },
    ),
    versioning: 'versioned-update',
    readHistory: true,
    updateCreate: true,
    conditionalCreate: true,
    conditionalRead: 'full-support',
    conditionalUpdate: true,
    conditionalDelete: 'single',
    referencePolicy: ['literal', 'local'],
    searchParam: searchParams(type),
    operation: typeOperations,
  };
}

let cached: { baseUrl: string; statement: CapabilityStatement } | undefined;

/** The CapabilityStatement states what this server really does, derived from the same tables the router uses. */
export function capabilityStatement(baseUrl: string): CapabilityStatement {
  if (cached?.baseUrl === baseUrl) return cached.statement;
  const statement: CapabilityStatement = {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    publisher: 'fhir-server',
    kind: 'instance',
    software: { name: 'fhir-server', version: SERVER_VERSION },
    implementation: { description: 'FHIR R4 server on PostgreSQL', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: ['application/json-patch+json', 'application/fhir+json'],
    rest: [
      {
        mode: 'server',
        resource: resourceTypes().map(resourceCapability),
        interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'search-system' }, { code: 'history-system' }],
        operation: operationsAt('system'),
      },
    ],
  };
  cached = { baseUrl, statement };
  return statement;
}

/** capabilities: GET [base]/metadata (http.html#capabilities). */
export async function capabilities(_request: FhirRequest, context: InteractionContext): Promise<FhirResponse> {
  return { status: 200, body: capabilityStatement(context.baseUrl) };
}
