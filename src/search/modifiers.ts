import type { ParamType } from './registry.js';

/**
 * The modifiers the SQL builder serves, by parameter type (search.html#modifiers); the
 * CapabilityStatement states these and no others. A reference parameter also takes a resource type
 * as its modifier, and can be chained.
 */
export const SUPPORTED_MODIFIERS: Record<ParamType, string[]> = {
  string: ['exact', 'contains', 'missing'],
  token: ['not', 'text', 'of-type', 'in', 'not-in', 'above', 'below', 'missing'],
  date: ['missing'],
  number: ['missing'],
  quantity: ['missing'],
  reference: ['[type]', 'identifier', 'missing'],
  uri: ['above', 'below', 'missing'],
  composite: ['missing'],
  special: [],
};
