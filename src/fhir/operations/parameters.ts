import type { Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';
import { errors } from '../../errors.js';

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
