import { isValidId } from '../ids.js';
import { isResourceType } from '../../definitions/index.js';

/**
 * Syntax of `Reference.reference` (https://hl7.org/fhir/R4/references.html#literal), plus the
 * conditional form `Type?params` that transactions resolve. Pure string checks, no I/O.
 */

export type ReferenceSyntax =
  | { ok: true; kind: 'relative'; resourceType: string; id: string; versionId?: string }
  | { ok: true; kind: 'conditional'; resourceType: string; query: string }
  | { ok: true; kind: 'absolute' | 'urn' }
  | { ok: true; kind: 'local'; localId: string }
  | { ok: false; problem: string };

const RELATIVE = /^([A-Za-z]+)\/([^/]+)(?:\/_history\/([^/]+))?$/;
const UUID = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const OID = /^urn:oid:[0-2](\.(0|[1-9]\d*))+$/;
const OTHER_URN = /^urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:\S+$/;
/** scheme://authority[/path][?query][#fragment], no whitespace. */
const ABSOLUTE_URL = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s/?#]+\S*$/;

const EXPECTED = 'expected Type/id[/_history/vid], an absolute URL, urn:uuid:, urn:oid:, #contained-id or Type?search-params';

/** Classifies a literal reference, or says why it is not one. */
export function checkReferenceSyntax(reference: string): ReferenceSyntax {
  const first = reference.charCodeAt(0);
  if (first === 35 /* # */) {
    const localId = reference.slice(1);
    if (localId !== '' && !isValidId(localId)) {
      return { ok: false, problem: `"${reference}" is not a valid local reference: "${localId}" is not a valid id` };
    }
    return { ok: true, kind: 'local', localId };
  }
  const relative = RELATIVE.exec(reference);
  if (relative) {
    const [, resourceType, id, versionId] = relative as unknown as [string, string, string, string | undefined];
    if (!isResourceType(resourceType)) {
      return { ok: false, problem: `"${reference}" refers to unknown resource type "${resourceType}"` };
    }
    if (!isValidId(id)) return { ok: false, problem: `"${reference}" has an invalid id "${id}"` };
    if (versionId !== undefined && !isValidId(versionId)) {
      return { ok: false, problem: `"${reference}" has an invalid version id "${versionId}"` };
    }
    return versionId === undefined ? { ok: true, kind: 'relative', resourceType, id } : { ok: true, kind: 'relative', resourceType, id, versionId };
  }
  if (reference.startsWith('urn:')) {
    if (reference.startsWith('urn:uuid:')) {
      return UUID.test(reference) ? { ok: true, kind: 'urn' } : { ok: false, problem: `"${reference}" is not a valid urn:uuid` };
    }
    if (reference.startsWith('urn:oid:')) {
      return OID.test(reference) ? { ok: true, kind: 'urn' } : { ok: false, problem: `"${reference}" is not a valid urn:oid` };
    }
    return OTHER_URN.test(reference) ? { ok: true, kind: 'urn' } : { ok: false, problem: `"${reference}" is not a valid URN` };
  }
  if (ABSOLUTE_URL.test(reference)) return { ok: true, kind: 'absolute' };
  const q = reference.indexOf('?');
  if (q > 0) {
    const resourceType = reference.slice(0, q);
    const query = reference.slice(q + 1);
    if (/^[A-Za-z]+$/.test(resourceType)) {
      if (!isResourceType(resourceType)) {
        return { ok: false, problem: `Conditional reference "${reference}" names unknown resource type "${resourceType}"` };
      }
      if (query.trim() === '') return { ok: false, problem: `Conditional reference "${reference}" has no search parameters` };
      return { ok: true, kind: 'conditional', resourceType, query };
    }
  }
  return { ok: false, problem: `Invalid reference "${reference}": ${EXPECTED}` };
}
