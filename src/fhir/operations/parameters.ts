import type { Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';
import { errors } from '../../errors.js';
import type { FhirRequest } from '../types.js';

/** The operation's input as a Parameters resource (a POST body), or absent. */
export function inputParameters(body: unknown): Parameters | undefined {
  if (body === undefined) return undefined;
  const resource = body as Resource;
  if (resource?.resourceType !== 'Parameters') throw errors.badRequest('The operation takes a Parameters resource');
  return resource as Parameters;
}

export function parameter(params: Parameters | undefined, name: string): ParametersParameter | undefined {
  return params?.parameter?.find((p) => p.name === name);
}

/** The primitive value of a parameter, as text (the form a URL would carry it in). */
function primitiveText(p: ParametersParameter): string | undefined {
  const value =
    p.valueString ?? p.valueCode ?? p.valueDate ?? p.valueDateTime ?? p.valueInstant ?? p.valueUri ?? p.valueId ?? p.valueTime ??
    p.valueInteger ?? p.valuePositiveInt ?? p.valueUnsignedInt ?? p.valueBoolean ?? p.valueReference?.reference;
  if (value !== undefined) return String(value);
  const coding = p.valueCoding ?? p.valueCodeableConcept?.coding?.[0];
  if (coding?.code) return coding.system ? `${coding.system}|${coding.code}` : coding.code;
  return undefined;
}

/**
 * An operation's input, whichever way it came (operations.html#request): the URL's query, and for
 * POST a Parameters body; a name may appear in both.
 */
export class OperationInput {
  private readonly body?: Parameters;

  constructor(private readonly request: FhirRequest) {
    this.body = request.method === 'POST' ? inputParameters(request.body) : undefined;
  }

  /** Every value given for `name`, as text; comma-separated URL values count as several. */
  values(name: string): string[] {
    const fromQuery = this.request.query.getAll(name).flatMap((value) => value.split(',')).map((v) => v.trim()).filter(Boolean);
    const fromBody = this.parameters(name).map(primitiveText).filter((v): v is string => v !== undefined && v !== '');
    return [...fromQuery, ...fromBody];
  }

  /**
   * The one value of `name` taken whole, commas included (free text: a filter, a display), if
   * given; given more than once is a 400.
   */
  text(name: string): string | undefined {
    const values = [...this.request.query.getAll(name), ...this.parameters(name).map(primitiveText).filter((v): v is string => v !== undefined)];
    if (values.length > 1) throw errors.badRequest(`Parameter "${name}" is given more than once`);
    return values[0];
  }

  /** The one value of `name`, if given; given more than once is a 400. */
  value(name: string): string | undefined {
    const values = this.values(name);
    if (values.length > 1) throw errors.badRequest(`Parameter "${name}" is given more than once`);
    return values[0];
  }

  required(name: string): string {
    const value = this.value(name);
    if (value === undefined) throw errors.badRequest(`Parameter "${name}" is required`);
    return value;
  }

  parameters(name: string): ParametersParameter[] {
    return this.body?.parameter?.filter((p) => p.name === name) ?? [];
  }

  resource(name: string): Resource | undefined {
    const found = this.parameters(name);
    if (found.length > 1) throw errors.badRequest(`Parameter "${name}" is given more than once`);
    return found[0]?.resource;
  }
}
