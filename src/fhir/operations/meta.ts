import type { Coding, Meta, Parameters, Resource } from '@medplum/fhirtypes';
import { errors } from '../../errors.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../types.js';
import { inputParameters, parameter } from './parameters.js';
import { write } from '../write.js';
import { readableCurrent, requireAdmin } from '../access-checks.js';

function metaResult(meta: Meta): FhirResponse {
  const body: Parameters = { resourceType: 'Parameters', parameter: [{ name: 'return', valueMeta: meta }] };
  return { status: 200, body };
}

function inputMeta(request: FhirRequest): Meta {
  const meta = parameter(inputParameters(request.body), 'meta')?.valueMeta;
  if (!meta) throw errors.badRequest('The operation needs a "meta" parameter of type Meta');
  return meta;
}

/** Tags and security labels are identified by system + code; version and display do not count. */
const sameCoding = (a: Coding, b: Coding): boolean => a.system === b.system && a.code === b.code;

function addCodings(existing: Coding[] | undefined, added: Coding[] | undefined): Coding[] | undefined {
  const result = [...(existing ?? [])];
  for (const coding of added ?? []) if (!result.some((c) => sameCoding(c, coding))) result.push(coding);
  return result.length ? result : undefined;
}

function removeCodings(existing: Coding[] | undefined, removed: Coding[] | undefined): Coding[] | undefined {
  const result = (existing ?? []).filter((c) => !(removed ?? []).some((r) => sameCoding(c, r)));
  return result.length ? result : undefined;
}

function withMeta(resource: Resource, meta: Meta): Resource {
  const isEmpty = (v: unknown) => v === undefined || (Array.isArray(v) && v.length === 0);
  const cleaned = Object.fromEntries(Object.entries(meta).filter(([, v]) => !isEmpty(v))) as Meta;
  return { ...resource, meta: cleaned };
}

/** $meta at system, type and instance level: the profiles, tags and security labels in use. */
export async function metaOperation(_request: FhirRequest, context: InteractionContext, type?: string, id?: string): Promise<FhirResponse> {
  // The tags and profiles in use across resources would tell about resources out of reach: admins only.
  if (!id) {
    requireAdmin(context);
    return metaResult(await context.store.metaInUse(type, context.tx));
  }
  const current = await readableCurrent(context, type as string, id);
  if (current.deleted) throw errors.gone(type as string, id, current.versionId);
  const resource = JSON.parse(current.json as string) as Resource;
  return metaResult(resource.meta ?? {});
}

/**
 * $meta-add and $meta-delete change a resource's profiles, tags and security labels. They go
 * through the one write path like any change, so they make a new version (the spec leaves open
 * whether they do; a new version keeps history, ETags and subscriptions exact). They change part of
 * an existing resource, so they are patches to the write path: 404 when missing, 410 when deleted.
 */
function metaChange(change: (meta: Meta, input: Meta) => Meta) {
  return async (request: FhirRequest, context: InteractionContext, type: string, id: string): Promise<FhirResponse> => {
    const input = inputMeta(request);
    const result = await write(context, {
      operation: 'patch',
      resourceType: type,
      id,
      next: (current) => withMeta(current as Resource, change(current?.meta ?? {}, input)),
    });
    return metaResult(result.resource?.meta ?? {});
  };
}

export const metaAddOperation = metaChange((meta, input) => ({
  ...meta,
  profile: [...new Set([...(meta.profile ?? []), ...(input.profile ?? [])])],
  tag: addCodings(meta.tag, input.tag),
  security: addCodings(meta.security, input.security),
}));

export const metaDeleteOperation = metaChange((meta, input) => ({
  ...meta,
  profile: (meta.profile ?? []).filter((p) => !(input.profile ?? []).includes(p)),
  tag: removeCodings(meta.tag, input.tag),
  security: removeCodings(meta.security, input.security),
}));
