import { parseFhirPath } from '@medplum/core';
import type { SearchParameter } from '@medplum/fhirtypes';
import pg from 'pg';
import { errors, issueAt } from '../errors.js';
import { isResourceType } from '../definitions/index.js';
import type { Database, Queryable, WriteHook } from '../store/index.js';
import type { SearchParameterRegistry } from './registry.js';

const CHANNEL = 'fhir_search_parameters';
const SEARCHABLE_TYPES = ['string', 'token', 'date', 'number', 'quantity', 'reference', 'uri', 'composite'];

/** A custom SearchParameter must be usable before it is stored: known base types, a searchable type, a parsable expression. */
function checkSearchParameter(sp: SearchParameter): void {
  const problems = [];
  if (!sp.code || !/^[A-Za-z0-9_][A-Za-z0-9_\-.]*$/.test(sp.code)) problems.push(issueAt('SearchParameter.code', 'code must be a parameter name (letters, digits, _ - .)'));
  const bases: string[] = sp.base ?? [];
  const unknown = bases.filter((base) => base !== 'Resource' && base !== 'DomainResource' && !isResourceType(base));
  if (unknown.length) problems.push(issueAt('SearchParameter.base', `unknown resource types: ${unknown.join(', ')}`));
  if (!SEARCHABLE_TYPES.includes(sp.type as string)) problems.push(issueAt('SearchParameter.type', `type ${sp.type} is not searchable here (${SEARCHABLE_TYPES.join(', ')})`));
  if (sp.type !== 'composite' && !sp.expression) problems.push(issueAt('SearchParameter.expression', 'an expression is needed to index the parameter'));
  if (sp.expression) {
    try {
      parseFhirPath(sp.expression);
    } catch (error) {
      problems.push(issueAt('SearchParameter.expression', `not a FHIRPath expression: ${(error as Error).message}`));
    }
  }
  if (problems.length) throw errors.invalidResource(problems);
}

async function storedSearchParameters(db: Queryable): Promise<SearchParameter[]> {
  const { rows } = await db.query<{ content: SearchParameter }>(`SELECT content FROM resource WHERE resource_type = 'SearchParameter' AND NOT deleted`);
  return rows.map((row) => row.content);
}

/**
 * Custom SearchParameters (SearchParameter resources stored here) apply to writes from the moment
 * they are written: this process registers them in the same write, and every process (this one too)
 * reloads them when PostgreSQL delivers the commit's notification.
 */
export function customParameterHook(registry: SearchParameterRegistry): WriteHook {
  return {
    name: 'custom-search-parameters',
    beforeWrite: (_tx, change) => {
      if (change.resourceType === 'SearchParameter' && change.resource) checkSearchParameter(change.resource as SearchParameter);
    },
    afterWrite: async (tx, change) => {
      if (change.resourceType !== 'SearchParameter') return;
      if (change.resource) registry.register(change.resource as SearchParameter);
      else if (change.previous) registry.unregister(change.previous as SearchParameter);
      await tx.query('SELECT pg_notify($1, $2)', [CHANNEL, change.id]);
    },
  };
}

/** Loads the stored custom parameters now, then follows changes made by any process; returns a stop function. */
export async function followCustomParameters(db: Database, registry: SearchParameterRegistry, connectionString: string): Promise<() => Promise<void>> {
  const reload = async () => registry.replaceCustom(await storedSearchParameters(db));
  await reload();
  const listener = new pg.Client({ connectionString });
  listener.on('error', () => undefined);
  await listener.connect();
  listener.on('notification', () => void reload().catch(() => undefined));
  await listener.query(`LISTEN ${CHANNEL}`);
  return async () => {
    await listener.end().catch(() => undefined);
  };
}
