import { errors } from '../errors.js';

export type ResponseFormat = 'application/fhir+json' | 'application/json';

const FORMAT_ALIASES: Record<string, ResponseFormat> = {
  json: 'application/fhir+json',
  'application/fhir+json': 'application/fhir+json',
  'application/json+fhir': 'application/fhir+json',
  'application/json': 'application/json',
};

/** The media types in an Accept header, without parameters, in the client's order of preference. */
function acceptedTypes(accept: string): string[] {
  return accept
    .split(',')
    .map((part) => {
      const [type, ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([\d.]+)/.exec(p)?.[1]).find(Boolean);
      return { type: type.trim().toLowerCase(), q: q === undefined ? 1 : Number(q) };
    })
    .filter((t) => t.type && t.q > 0)
    .sort((a, b) => b.q - a.q)
    .map((t) => t.type);
}

/**
 * The format of the response (http.html#mime-type): `_format` overrides `Accept`. We serve JSON
 * only; a request that accepts nothing JSON-like (XML, Turtle) is 406.
 */
export function responseFormat(formatParam: string | undefined, accept: string | undefined): ResponseFormat {
  if (formatParam) {
    const format = FORMAT_ALIASES[formatParam.trim().toLowerCase()];
    if (!format) throw errors.notAcceptable(formatParam);
    return format;
  }
  const types = acceptedTypes(accept ?? '');
  if (types.length === 0) return 'application/fhir+json';
  for (const type of types) {
    if (FORMAT_ALIASES[type]) return FORMAT_ALIASES[type];
    if (type === '*/*' || type === 'application/*' || type === 'text/html' || type === 'text/plain') return 'application/fhir+json';
  }
  throw errors.notAcceptable(accept as string);
}
