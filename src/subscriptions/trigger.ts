import type { Resource } from '@medplum/fhirtypes';
import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4';
import type { Interaction, QueryCriteria, TopicTrigger } from './topic.js';

type Compiled = (resource: unknown, context: Record<string, unknown>) => unknown[];
const compiled = new Map<string, Compiled>();

function compile(expression: string): Compiled {
  let fn = compiled.get(expression);
  if (!fn) {
    fn = fhirpath.compile(expression, r4model) as unknown as Compiled;
    compiled.set(expression, fn);
  }
  return fn;
}

/**
 * A trigger's `fhirPathCriteria`, with `%current` and `%previous` (an empty collection when there is
 * no such version: a create has no previous, a delete no current). True only for a result of `true`.
 */
export function fhirPathPasses(expression: string, current: Resource | undefined, previous: Resource | undefined): boolean {
  try {
    const result = compile(expression)(current ?? previous ?? {}, { current: current ?? [], previous: previous ?? [] });
    return result.length === 1 && result[0] === true;
  } catch {
    return false;
  }
}

export function triggerApplies(trigger: TopicTrigger, resourceType: string, interaction: Interaction): boolean {
  return trigger.resourceType === resourceType && trigger.interactions.has(interaction);
}

/**
 * `queryCriteria`: the outcome from the searches' results on the previous and current versions, or
 * from `resultForCreate` / `resultForDelete` where there is no such version; `requireBoth` asks
 * for both to pass, otherwise either suffices. A side without criteria does not take part.
 */
export function queryCriteriaOutcome(
  query: QueryCriteria,
  previousResult: boolean | undefined,
  currentResult: boolean | undefined,
  interaction: Interaction,
): boolean {
  const previous = query.previous === undefined ? undefined : interaction === 'create' ? query.resultForCreate === 'test-passes' : previousResult === true;
  const current = query.current === undefined ? undefined : interaction === 'delete' ? query.resultForDelete === 'test-passes' : currentResult === true;
  const sides = [previous, current].filter((side): side is boolean => side !== undefined);
  if (sides.length === 0) return true;
  return query.requireBoth ? sides.every(Boolean) : sides.some(Boolean);
}
