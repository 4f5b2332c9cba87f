import type { CapabilityStatement, CapabilityStatementRestResource, ResourceType } from '@medplum/fhirtypes';
import { resourceTypes } from '../../definitions/index.js';
import { compartmentTypes, isFullTextIndexed, SUPPORTED_MODIFIERS, type SearchParameterRegistry } from '../../search/index.js';
import { TOPIC_CANONICAL_EXTENSION, topicCanonicals, WEBSOCKET_EXTENSION, websocketUrl } from '../../subscriptions/index.js';
import { ownDefinitionUrl } from '../operations/definitions.js';
import { OPERATIONS, operationAppliesTo } from '../operations/index.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../types.js';
import { errors } from '../../errors.js';
import { terminologyCapabilities } from './terminology-capabilities.js';

const SOFTWARE = { name: 'fhir-server', version: '0.1.0' };
const implementation = (url: string) => ({ description: 'FHIR R4 server on PostgreSQL', url });

function operationsAt(baseUrl: string, level: 'system' | 'type' | 'instance', type?: string) {
  return OPERATIONS.filter((op) => op.levels.includes(level) && (level === 'system' || operationAppliesTo(op, type))).map((op) => ({
    name: op.name,
    definition: op.definition === 'own' ? ownDefinitionUrl(baseUrl, op.name) : op.definition,
  }));
}

/** Every search parameter of the type that search serves, with the modifiers that work on it. */
function searchParams(registry: SearchParameterRegistry, type: string): CapabilityStatementRestResource['searchParam'] {
  return [...registry.forType(type).values()]
    .filter((param) => param.type !== 'special')
    .filter((param) => isFullTextIndexed(type) || (param.code !== '_text' && param.code !== '_content'))
    .sort((a, b) => a.code.localeCompare(b.code))
    .map((param) => {
      const modifiers = SUPPORTED_MODIFIERS[param.type].map((m) => `:${m}`).join(', ');
      const chaining = param.type === 'reference' ? ' Can be chained.' : '';
      return {
        name: param.code,
        definition: param.url,
        type: param.type as 'string',
        documentation: `${param.description ?? ''}${modifiers ? ` Modifiers: ${modifiers}.` : ''}${chaining}`.trim(),
      };
    });
}

/** The `_include` and `_revinclude` values a type offers: its reference parameters, and `*`. */
function includes(registry: SearchParameterRegistry, type: string): string[] {
  const references = [...registry.forType(type).values()].filter((p) => p.type === 'reference').map((p) => `${type}:${p.code}`);
  return ['*', ...references.sort()];
}

/** Parameters every type has, at system level too (search.html#all). */
const COMMON_PARAMS: CapabilityStatementRestResource['searchParam'] = [
  { name: '_id', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/Resource-id', documentation: 'Logical id of the resource' },
  { name: '_lastUpdated', type: 'date', definition: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated', documentation: 'When the resource version last changed' },
  { name: '_tag', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/Resource-tag', documentation: 'Tags applied to this resource' },
  { name: '_profile', type: 'uri', definition: 'http://hl7.org/fhir/SearchParameter/Resource-profile', documentation: 'Profiles this resource claims to conform to' },
  { name: '_security', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/Resource-security', documentation: 'Security Labels applied to this resource' },
  { name: '_source', type: 'uri', definition: 'http://hl7.org/fhir/SearchParameter/Resource-source', documentation: 'Identifies where the resource comes from' },
  { name: '_text', type: 'string', definition: 'http://hl7.org/fhir/SearchParameter/DomainResource-text', documentation: 'Full-text search on the narrative (PostgreSQL full-text search)' },
  { name: '_content', type: 'string', definition: 'http://hl7.org/fhir/SearchParameter/Resource-content', documentation: 'Full-text search on all of the resource text (PostgreSQL full-text search)' },
  { name: '_list', type: 'token', documentation: 'Resources that are items of the List with this id' },
  { name: '_has', type: 'string', documentation: 'Reverse chaining: _has:Type:reference-parameter:parameter=value, nestable' },
  { name: '_type', type: 'token', documentation: 'System-level search: the types to search, comma separated' },
];

function resourceCapability(baseUrl: string, registry: SearchParameterRegistry, type: string): CapabilityStatementRestResource {
  const typeOperations = [...new Map([...operationsAt(baseUrl, 'type', type), ...operationsAt(baseUrl, 'instance', type)].map((op) => [op.name, op])).values()];
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
    searchInclude: includes(registry, type),
    searchRevInclude: includes(registry, type),
    searchParam: searchParams(registry, type),
    operation: typeOperations,
    // Subscriptions are taken in the Backport IG's form too (README "Subscriptions").
    ...(type === 'Subscription' ? { supportedProfile: [BACKPORT_SUBSCRIPTION_PROFILE] } : {}),
  };
}

const BACKPORT_SUBSCRIPTION_PROFILE = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription';

/** SMART App Launch's declaration (conformance.html): the SMART service, and where its OAuth endpoints are. */
function security(fhirBaseUrl: string): NonNullable<CapabilityStatement['rest']>[number]['security'] {
  const origin = fhirBaseUrl.replace(/\/fhir$/, '');
  const uri = (url: string, path: string) => ({ url, valueUri: `${origin}${path}` });
  return {
    cors: true,
    service: [
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR', display: 'SMART-on-FHIR' }], text: 'OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)' },
    ],
    extension: [
      {
        url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
        extension: [
          uri('authorize', '/oauth/authorize'),
          uri('token', '/oauth/token'),
          uri('register', '/oauth/register'),
          uri('introspect', '/oauth/introspect'),
          uri('revoke', '/oauth/revoke'),
        ],
      },
    ],
  };
}

let cached: { baseUrl: string; registryVersion: number; statement: CapabilityStatement } | undefined;

/** The CapabilityStatement states what this server really does, derived from the same tables the router uses. */
export function capabilityStatement(baseUrl: string, registry: SearchParameterRegistry): CapabilityStatement {
  if (cached?.baseUrl === baseUrl && cached.registryVersion === registry.version) return cached.statement;
  const statement: CapabilityStatement = {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    publisher: 'fhir-server',
    kind: 'instance',
    // Bulk Data Access IG v2: $export at system, Patient and Group level (operations below).
    instantiates: ['http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data'],
    software: SOFTWARE,
    implementation: implementation(baseUrl),
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: ['application/json-patch+json', 'application/fhir+json'],
    rest: [
      {
        mode: 'server',
        security: security(baseUrl),
        // Where subscription notifications are served over websockets (Subscriptions Backport IG, CONTRACT.md).
        extension: [{ url: WEBSOCKET_EXTENSION, valueUri: websocketUrl(baseUrl) }],
        resource: resourceTypes().map((type) => resourceCapability(baseUrl, registry, type)),
        interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'search-system' }, { code: 'history-system' }],
        searchParam: COMMON_PARAMS,
        operation: operationsAt(baseUrl, 'system'),
        compartment: compartmentTypes().map(compartmentCanonical),
      },
    ],
  };
  cached = { baseUrl, registryVersion: registry.version, statement };
  return statement;
}

/** The canonical URL of a compartment's R4 CompartmentDefinition (`RelatedPerson` -> `.../relatedPerson`). */
function compartmentCanonical(type: string): string {
  return `http://hl7.org/fhir/CompartmentDefinition/${type[0].toLowerCase()}${type.slice(1)}`;
}

/**
 * capabilities: GET [base]/metadata (http.html#capabilities). `mode=full` (the default) and
 * `mode=normative` give the CapabilityStatement, `mode=terminology` the TerminologyCapabilities.
 */
export async function capabilities(request: FhirRequest, context: InteractionContext): Promise<FhirResponse> {
  const mode = request.query.get('mode') ?? 'full';
  if (mode === 'terminology') {
    return { status: 200, body: await terminologyCapabilities(context.tx ?? context.store.db, { software: SOFTWARE, implementation: implementation(context.baseUrl) }) };
  }
  if (mode !== 'full' && mode !== 'normative') throw errors.invalidSearchValue('mode', mode, 'expected full, normative or terminology');
  const statement = capabilityStatement(context.baseUrl, context.search.registry);
  const topics = await topicCanonicals(context.tx ?? context.store.db);
  return { status: 200, body: withSubscriptionTopics(statement, topics) };
}

/**
 * Topic discovery on R4 (Subscriptions Backport IG, components.html): one
 * `capabilitystatement-subscriptiontopic-canonical` extension per supported topic on the
 * Subscription resource entry. Topics are stored (admins add them), so they are read per request
 * and added to a copy; the cached statement is left as it is.
 */
function withSubscriptionTopics(statement: CapabilityStatement, topics: string[]): CapabilityStatement {
  if (topics.length === 0) return statement;
  const rest = (statement.rest ?? []).map((entry) => ({
    ...entry,
    resource: entry.resource?.map((resource) =>
      resource.type === 'Subscription'
        ? { ...resource, extension: [...(resource.extension ?? []), ...topics.map((url) => ({ url: TOPIC_CANONICAL_EXTENSION, valueCanonical: url }))] }
        : resource,
    ),
  }));
  return { ...statement, rest };
}
