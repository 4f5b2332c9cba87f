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

/**
 * An operation's simple inputs by name: the query's, and on POST those of a Parameters body whose
 * value is a primitive (each as its text). Complex inputs (a Coding, a resource) are read with `parameter`.
 */
export function primitiveInputs(request: FhirRequest): URLSearchParams {
  const input = new URLSearchParams(request.query);
  if (request.method !== 'POST') return input;
  for (const parameter of inputParameters(request.body)?.parameter ?? []) {
    const value = Object.entries(parameter).find(([key]) => key.startsWith('value'))?.[1];
    if (value !== undefined && typeof value !== 'object') input.append(parameter.name as string, String(value));
  }
  return input;
}
