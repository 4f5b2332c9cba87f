import type { Basic, Extension } from '@medplum/fhirtypes';
import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4';
import { isResourceType } from '../definitions/index.js';
import { errors, issueAt } from '../errors.js';
import { TOPIC_CODE, TOPIC_EXT } from './vocabulary.js';

export type Interaction = 'create' | 'update' | 'delete';
const INTERACTIONS: readonly Interaction[] = ['create', 'update', 'delete'];

/** `SubscriptionTopic.resourceTrigger.queryCriteria`: searches on the previous and the current version. */
export interface QueryCriteria {
  previous?: string;
  current?: string;
  resultForCreate: 'test-passes' | 'test-fails';
  resultForDelete: 'test-passes' | 'test-fails';
  requireBoth: boolean;
}

export interface TopicTrigger {
  resourceType: string;
  interactions: ReadonlySet<Interaction>;
  /** FHIRPath with `%current` and `%previous`, true to trigger. */
  fhirPath?: string;
  query?: QueryCriteria;
}

export interface TopicFilter {
  resourceType?: string;
  param: string;
  modifiers: string[];
}

/** A SubscriptionTopic (R5) read from its R4 representation, a Basic resource (Backport IG). */
export interface Topic {
  id: string;
  url: string;
  status: string;
  title?: string;
  triggers: TopicTrigger[];
  canFilterBy: TopicFilter[];
}

const byUrl = (extensions: Extension[] | undefined, urls: string | readonly string[]): Extension[] =>
  (extensions ?? []).filter((e) => (typeof urls === 'string' ? e.url === urls : urls.includes(e.url)));

const first = (extensions: Extension[] | undefined, url: string | readonly string[]): Extension | undefined => byUrl(extensions, url)[0];

export function isTopicResource(resource: { resourceType?: string } | undefined): resource is Basic {
  if (resource?.resourceType !== 'Basic') return false;
  return ((resource as Basic).code?.coding ?? []).some((c) => c.system === TOPIC_CODE.system && c.code === TOPIC_CODE.code);
}

/** `http://hl7.org/fhir/StructureDefinition/Encounter` or `Encounter` -> `Encounter`. */
function resourceTypeOf(uri: string | undefined): string | undefined {
  if (!uri) return undefined;
  const type = uri.replace(/^https?:\/\/hl7\.org\/fhir\/StructureDefinition\//, '');
  return isResourceType(type) ? type : undefined;
}

function checkFhirPath(expression: string, where: string): void {
  try {
    fhirpath.compile(expression, r4model);
  } catch (error) {
    throw errors.invalidResource([issueAt(where, `fhirPathCriteria is not FHIRPath: ${(error as Error).message}`)]);
  }
}

function behaviour(value: string | undefined, where: string): 'test-passes' | 'test-fails' | undefined {
  if (value === undefined || value === 'test-passes' || value === 'test-fails') return value;
  throw errors.invalidResource([issueAt(where, `expected test-passes or test-fails, got "${value}"`)]);
}

/**
 * Reads a topic; throws a 400 naming the element when it cannot be used: it needs a canonical URL
 * and at least one resource trigger on a known resource type.
 */
export function parseTopic(basic: Basic): Topic {
  const url = first(basic.extension, TOPIC_EXT.url)?.valueUri;
  if (!url) throw errors.invalidResource([issueAt('Basic.extension', `A SubscriptionTopic needs its canonical URL (${TOPIC_EXT.url})`)]);
  const status = first(basic.modifierExtension, TOPIC_EXT.status)?.valueCode ?? first(basic.extension, TOPIC_EXT.status)?.valueCode ?? 'active';
  const triggers = byUrl(basic.extension, TOPIC_EXT.resourceTrigger).map((trigger, i): TopicTrigger => {
    const where = `Basic.extension[${i}]`;
    const parts = trigger.extension;
    const resourceType = resourceTypeOf(first(parts, 'resource')?.valueUri);
    if (!resourceType) throw errors.invalidResource([issueAt(where, 'resourceTrigger.resource must name an R4 resource type')]);
    const named = byUrl(parts, 'supportedInteraction').map((e) => e.valueCode as Interaction);
    const unknown = named.filter((n) => !INTERACTIONS.includes(n));
    if (unknown.length) throw errors.invalidResource([issueAt(where, `unknown supportedInteraction ${unknown.join(', ')}`)]);
    const fhirPath = first(parts, 'fhirPathCriteria')?.valueString;
    if (fhirPath) checkFhirPath(fhirPath, where);
    const queryParts = first(parts, 'queryCriteria')?.extension;
    const query: QueryCriteria | undefined = queryParts && {
      previous: first(queryParts, 'previous')?.valueString,
      current: first(queryParts, 'current')?.valueString,
      resultForCreate: behaviour(first(queryParts, 'resultForCreate')?.valueCode, where) ?? 'test-fails',
      resultForDelete: behaviour(first(queryParts, 'resultForDelete')?.valueCode, where) ?? 'test-fails',
      requireBoth: first(queryParts, 'requireBoth')?.valueBoolean ?? false,
    };
    return { resourceType, interactions: new Set(named.length ? named : INTERACTIONS), fhirPath, query };
  });
  if (triggers.length === 0) throw errors.invalidResource([issueAt('Basic.extension', 'A SubscriptionTopic needs at least one resourceTrigger')]);
  const canFilterBy = byUrl(basic.extension, TOPIC_EXT.canFilterBy).map((filter, i): TopicFilter => {
    const param = first(filter.extension, 'filterParameter')?.valueString;
    if (!param) throw errors.invalidResource([issueAt(`Basic.extension[${i}]`, 'canFilterBy needs a filterParameter')]);
    return {
      resourceType: resourceTypeOf(first(filter.extension, 'resource')?.valueUri),
      param,
      modifiers: byUrl(filter.extension, 'modifier').map((e) => e.valueCode as string),
    };
  });
  return {
    id: basic.id as string,
    url,
    status,
    title: first(basic.extension, TOPIC_EXT.title)?.valueString,
    triggers,
    canFilterBy,
  };
}
