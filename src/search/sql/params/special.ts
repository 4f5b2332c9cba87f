import { errors } from '../../../errors.js';
import type { CriterionBuilder } from '../context.js';
import { fragment, or, TRUE } from '../fragment.js';

/**
 * The values that say something: "Empty parameters are not an error - they are just ignored by the
 * server" (search.html#errors). The builder ignores an empty value of a typed parameter; these
 * special ones receive their values as written.
 */
const present = (values: string[]): string[] => values.filter((value) => value !== '');

/** `_id`, on the resource row itself. */
export const idCriterion: CriterionBuilder = (_context, criterion, alias) => {
  if (criterion.modifier && criterion.modifier !== 'not') throw errors.badRequest(`Modifier :${criterion.modifier} is not supported on _id`);
  const ids = present(criterion.values);
  if (ids.length === 0) return TRUE;
  const match = fragment(`${alias}.id = ANY($?::text[])`, ids);
  return criterion.modifier === 'not' ? fragment(`NOT (${match.sql})`, ...match.values) : match;
};

/** `_text` (the narrative) and `_content` (all of the resource's text): PostgreSQL full-text search. */
export function fullTextCriterion(column: 'narrative' | 'content'): CriterionBuilder {
  return (context, criterion, alias) => {
    if (criterion.modifier) throw errors.badRequest(`Modifier :${criterion.modifier} is not supported on ${criterion.name}`);
    const values = present(criterion.values);
    if (values.length === 0) return TRUE;
    const t = context.alias('t');
    return or(
      values.map((value) =>
        fragment(
          `EXISTS (SELECT 1 FROM search_text ${t} WHERE ${t}.resource_type = ${alias}.resource_type AND ${t}.id = ${alias}.id AND ${t}.${column} @@ websearch_to_tsquery('english', $?))`,
          value,
        ),
      ),
    );
  };
}

/** `_list=id`: the resources that List/id has as items. */
export const listCriterion: CriterionBuilder = (context, criterion, alias) => {
  if (criterion.modifier) throw errors.badRequest(`Modifier :${criterion.modifier} is not supported on _list`);
  const lists = present(criterion.values);
  if (lists.length === 0) return TRUE;
  const l = context.alias('l');
  const lr = context.alias('lr');
  return or(
    lists.map((listId) =>
      fragment(
        `EXISTS (SELECT 1 FROM search_reference ${l} JOIN resource ${lr} ON ${lr}.resource_type = ${l}.resource_type AND ${lr}.id = ${l}.id AND NOT ${lr}.deleted
          WHERE ${l}.resource_type = 'List' AND ${l}.id = $? AND ${l}.param = 'item'
            AND ${l}.target_type = ${alias}.resource_type AND ${l}.target_id = ${alias}.id)`,
        listId,
      ),
    ),
  );
};
