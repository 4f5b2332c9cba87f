import type { Resource } from '@medplum/fhirtypes';
import jsonpatch, { type Operation } from 'fast-json-patch';
import { errors, type FhirError } from '../../errors.js';

// fast-json-patch is CommonJS: Node only exposes its exports through the default import.
const { applyPatch, JsonPatchError } = jsonpatch;

/**
 * Applies a JSON Patch (RFC 6902) document to a copy of the resource. The operations are validated
 * as they are applied, and the input is never touched, so a failed patch leaves nothing half-done.
 */
export function applyJsonPatch(resource: Resource, operations: unknown): Resource {
  let patched: unknown;
  try {
    // The operations are copied too: `add`/`replace` put their values into the document by reference.
    patched = applyPatch(structuredClone(resource), structuredClone(operations) as Operation[], true).newDocument;
  } catch (err) {
    throw toFhirError(err);
  }
  assertSameIdentity(resource, patched);
  return patched as Resource;
}

/** A patch may change anything but which resource it is: its type and id stay those of the original. */
export function assertSameIdentity(original: Resource, patched: unknown): void {
  const { resourceType, id } = (patched ?? {}) as Partial<Resource>;
  if (resourceType !== original.resourceType || id !== original.id) {
    throw errors.invalidPatch('a patch must not change the resourceType or id of the resource');
  }
}

/** A failed `test` is a well-formed patch whose precondition does not hold (422); anything else is a bad patch (400). */
function toFhirError(err: unknown): FhirError {
  if (err instanceof JsonPatchError) {
    // `operation` is whatever the client sent, which may not even be an object.
    const path = (err.operation as Partial<Operation> | null | undefined)?.path;
    if (err.name === 'TEST_OPERATION_FAILED') return errors.businessRule(`JSON Patch test operation failed at ${path}`);
    // The library's message goes on to dump the operation and the whole document: keep its first line.
    const reason = err.message.split('\n')[0];
    if (err.index === undefined) return errors.invalidPatch(reason);
    return errors.invalidPatch(`operation ${err.index + 1}${typeof path === 'string' ? ` at "${path}"` : ''}: ${reason}`);
  }
  // fast-json-patch throws plain TypeErrors too (e.g. for paths through __proto__).
  if (err instanceof Error) return errors.invalidPatch(err.message);
  throw err;
}
