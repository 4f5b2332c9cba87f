import { errors } from '../errors.js';

export type ResponseFormat = 'application/fhir+json' | 'application/json';

const FORMAT_ALIASES: Record<string, ResponseFormat> = {
  json: 'application/fhir+json',
  'application/fhir+json': 'application/fhir+json',
  'application/json+fhir': 'application/fhir+json',
  'application/json': 'application/json',
};

/** The FHIR version this server speaks, as the `fhirVersion` media type parameter names it (http.html#version-parameter). */
export const FHIR_VERSION = '4.0';

/** A media type's `fhirVersion` parameter names this server's version, or is absent: `4.0`, or a patch release such as `4.0.1`. */
function speaksVersion(params: string[]): boolean {
  const version = params.map((p) => /^\s*fhirVersion\s*=\s*"?([^";\s]*)"?\s*$/i.exec(p)?.[1]).find((v) => v !== undefined);
  return version === undefined || version === FHIR_VERSION || version.startsWith(`${FHIR_VERSION}.`);
}

/**
 * The media types in an Accept header, without parameters, in the client's order of preference;
 * one that asks for another FHIR version (`fhirVersion=3.0`) is not acceptable.
 */
function acceptedTypes(accept: string): string[] {
  return accept
    .split(',')
    .map((part) => {
      const [type, ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([\d.]+)/.exec(p)?.[1]).find(Boolean);
      return { type: type.trim().toLowerCase(), q: q === undefined ? 1 : Number(q), speaks: speaksVersion(params) };
    })
    .filter((t) => t.type && t.q > 0 && t.speaks)
    .sort((a, b) => b.q - a.q)
    .map((t) => t.type);
}

/** A body sent as another FHIR version (`Content-Type: application/fhir+json; fhirVersion=3.0`) is refused with 415. */
export function checkBodyVersion(contentType: string | undefined): void {
  if (contentType && !speaksVersion(contentType.split(';').slice(1))) throw errors.unsupportedMediaType(contentType);
}

/**
 * The format of the response (http.html#mime-type): `_format` overrides `Accept`. We serve JSON
 * of FHIR R4 only; a request that accepts nothing JSON-like (XML, Turtle), or only another FHIR
 * version, is 406.
 */
export function responseFormat(formatParam: string | undefined, accept: string | undefined): ResponseFormat {
  if (formatParam) {
    const [type, ...params] = formatParam.split(';');
    const format = speaksVersion(params) ? FORMAT_ALIASES[type.trim().toLowerCase()] : undefined;
    if (!format) throw errors.notAcceptable(formatParam);
    return format;
  }
  if (!accept?.trim()) return 'application/fhir+json';
  const types = acceptedTypes(accept);
  for (const type of types) {
    if (FORMAT_ALIASES[type]) return FORMAT_ALIASES[type];
    if (type === '*/*' || type === 'application/*' || type === 'text/html' || type === 'text/plain') return 'application/fhir+json';
  }
  throw errors.notAcceptable(accept);
}
