import type { Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';
import { errors } from '../../../errors.js';
import { inputParameters } from '../../../fhir/operations/parameters.js';
import type { FhirRequest } from '../../../fhir/types.js';

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

/** A dateTime parameter (with a time zone when it has a time) as epoch milliseconds. */
export function dateTimeValue(name: string, value: string): number {
  const valid = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(value);
  const ms = valid ? Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value) : NaN;
  if (Number.isNaN(ms)) throw errors.badRequest(`Parameter "${name}" must be a date or a dateTime with a time zone, not "${value}"`);
  return ms;
}
