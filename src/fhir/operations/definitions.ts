import { deepEquals } from '@medplum/core';
import type { OperationDefinition, OperationDefinitionParameter, ResourceType } from '@medplum/fhirtypes';
import { generateSlotsDefinition } from '../../resources/index.js';
import type { Store } from '../../store/index.js';

const out = (name: string, type: string, documentation: string): OperationDefinitionParameter => ({
  name, use: 'out', min: 0, max: '1', type: type as 'string', documentation,
});

/** Our own operations (not in R4) are described by OperationDefinitions this server serves. */
function reindexDefinition(baseUrl: string): OperationDefinition {
  return {
    resourceType: 'OperationDefinition',
    id: 'reindex',
    url: `${baseUrl}/OperationDefinition/reindex`,
    name: 'Reindex',
    title: 'Rebuild search indexes from the stored resources',
    status: 'active',
    kind: 'operation',
    code: 'reindex',
    resource: ['Resource' as ResourceType],
    system: true,
    type: true,
    instance: true,
    affectsState: true,
    description:
      'POST rebuilds the search index rows of the selected resources (all, one type, or one resource) with the search ' +
      'parameters defined now, custom SearchParameters included. Up to 1000 resources are done within the request (200); ' +
      'more become a background job (202 with Content-Location). GET [base]/$reindex?job=<id> reports a job (202 while it runs, with X-Progress; 200 when done).',
    parameter: [
      { name: 'job', use: 'in', min: 0, max: '1', type: 'id', documentation: 'GET only: the job whose progress to report' },
      out('job', 'id', 'The background job, when there is one'),
      out('status', 'code', 'queued | running | completed | failed'),
      out('total', 'integer', 'Resources selected'),
      out('processed', 'integer', 'Resources reindexed so far'),
      out('type', 'string', 'The resource types of the job, when restricted'),
    ],
  };
}

export const OWN_OPERATION_DEFINITIONS = [reindexDefinition, generateSlotsDefinition];

export function ownDefinitionUrl(baseUrl: string, code: string): string {
  return `${baseUrl}/OperationDefinition/${code}`;
}

/** Stores (or brings up to date) the OperationDefinitions of our own operations, through the write path. */
export async function storeOwnOperationDefinitions(store: Store, baseUrl: string): Promise<void> {
  for (const define of OWN_OPERATION_DEFINITIONS) {
    const definition = define(baseUrl);
    const current = await store.read('OperationDefinition', definition.id as string);
    if (current?.json && !current.deleted && deepEquals(JSON.parse(current.json), definition) /* ignores meta */) continue;
    await store.write({ operation: 'update', resourceType: 'OperationDefinition', id: definition.id as string, next: () => definition });
  }
}
