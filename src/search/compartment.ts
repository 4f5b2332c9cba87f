import { compartmentDefinitions } from '../definitions/index.js';
import { errors } from '../errors.js';
import { fragment, or, type SqlFragment } from './sql/fragment.js';

export function compartmentTypes(): string[] {
  return [...compartmentDefinitions().keys()];
}

/** The types with members in a compartment, and by which parameters (compartmentdefinition.html). */
export function compartmentMembers(compartment: string): ReadonlyMap<string, string[]> {
  const members = compartmentDefinitions().get(compartment);
  if (!members) throw errors.badRequest(`${compartment} is not a compartment this server defines (${compartmentTypes().join(', ')})`);
  return members;
}

/**
 * Membership of the resource row `alias` in the compartment of `compartment/id`: one of its type's
 * compartment parameters refers to it. The compartment's own resource is a member too.
 */
export function compartmentCondition(compartment: string, id: string, alias: string): SqlFragment {
  const members = compartmentMembers(compartment);
  const types = [...members.keys()];
  const byParam = fragment(
    `EXISTS (SELECT 1 FROM search_reference cm
      JOIN unnest($?::text[], $?::text[]) AS m(resource_type, param) ON m.resource_type = cm.resource_type AND m.param = cm.param
      WHERE cm.resource_type = ${alias}.resource_type AND cm.id = ${alias}.id AND cm.target_type = $? AND cm.target_id = $?)`,
    types.flatMap((type) => (members.get(type) as string[]).map(() => type)),
    types.flatMap((type) => members.get(type) as string[]),
    compartment,
    id,
  );
  return or([byParam, fragment(`${alias}.resource_type = $? AND ${alias}.id = $?`, compartment, id)]);
}
