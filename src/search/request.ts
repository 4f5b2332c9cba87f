import { errors } from '../errors.js';
import { splitValues } from './parse.js';

/** Parameters that shape the result rather than select resources (search.html#return). */
const RESULT_PARAMETERS = new Set([
  '_count', '_sort', '_total', '_include', '_revinclude', '_summary', '_elements', '_contained', '_containedType',
  '_format', '_pretty', '_cursor', '_type',
]);

export function isResultParameter(name: string): boolean {
  return RESULT_PARAMETERS.has(name.split(':')[0]);
}

export interface IncludeRule {
  /** `Source:param[:Target]`, or `*`. */
  source: string;
  param: string;
  target?: string;
  iterate: boolean;
}

export interface ParsedSearchParams {
  criteria: { key: string; values: string[] }[];
  count: number;
  sort: string | null;
  /** `bounded` when the client did not ask: counted exactly up to a limit, beyond which the total is left out. */
  total: 'none' | 'estimate' | 'accurate' | 'bounded';
  cursor: string | null;
  include: IncludeRule[];
  revinclude: IncludeRule[];
  summaryCount: boolean;
  ignored: IgnoredParameter[];
}

/**
 * A parameter the search did not use (unknown, or unsupported in that form), without
 * `Prefer: handling=strict`: the client is told why, and the Bundle's links leave it out, since
 * they name the parameters the search used (search.html#errors).
 */
export interface IgnoredParameter {
  name: string;
  message: string;
}

export const DEFAULT_COUNT = 20;
export const MAX_COUNT = 1000;

function parseInclude(name: string, value: string): IncludeRule {
  const iterate = name.endsWith(':iterate') || name.endsWith(':recurse');
  if (value === '*') return { source: '*', param: '*', iterate };
  const [source, param, target] = value.split(':');
  if (!source || !param) throw errors.invalidSearchValue(name, value, 'expected SourceType:searchParam[:TargetType] or *');
  return { source, param, target, iterate };
}

/** A NUL (`%00`) is in no FHIR value, and PostgreSQL text cannot hold one: a 400, not a failed statement. */
function refuseNul(name: string, value: string): void {
  if (name.includes('\0') || value.includes('\0')) {
    throw errors.invalidSearchValue(name.replace(/\0/g, '%00'), value.replace(/\0/g, '%00'), 'a NUL character (%00) is in no FHIR value');
  }
}

/** Splits a search's parameters into criteria and result parameters, validating the latter. */
export function parseSearchParams(params: URLSearchParams, strict: boolean): ParsedSearchParams {
  const parsed: ParsedSearchParams = {
    criteria: [], count: DEFAULT_COUNT, sort: null, total: 'bounded', cursor: null, include: [], revinclude: [], summaryCount: false, ignored: [],
  };
  for (const [name, value] of params) {
    refuseNul(name, value);
    const base = name.split(':')[0];
    if (!RESULT_PARAMETERS.has(base)) {
      parsed.criteria.push({ key: name, values: splitValues(value) });
      continue;
    }
    switch (base) {
      case '_count': {
        const count = Number(value);
        if (!/^\d+$/.test(value)) throw errors.invalidSearchValue('_count', value, 'expected a non-negative integer');
        parsed.count = Math.min(count, MAX_COUNT);
        break;
      }
      case '_sort':
        parsed.sort = value;
        break;
      case '_total':
        if (value !== 'none' && value !== 'estimate' && value !== 'accurate') throw errors.invalidSearchValue('_total', value, 'expected none, estimate or accurate');
        parsed.total = value;
        break;
      case '_cursor':
        parsed.cursor = value;
        break;
      case '_include':
        parsed.include.push(parseInclude(name, value));
        break;
      case '_revinclude':
        parsed.revinclude.push(parseInclude(name, value));
        break;
      case '_summary':
        parsed.summaryCount = value === 'count';
        break;
      case '_contained':
        if (value !== 'false') {
          const message = `_contained=${value} is not supported: contained resources are searched as part of their container`;
          if (strict) throw errors.badRequest(message);
          parsed.ignored.push({ name, message });
        }
        break;
      default:
        break;
    }
  }
  return parsed;
}
