import type { TypedValue } from '@medplum/core';
import type { Reference } from '@medplum/fhirtypes';
import { isResourceType } from '../../definitions/index.js';
import type { ReferenceRow } from './rows.js';

export type ReferenceValue = Omit<ReferenceRow, 'param'>;

const RELATIVE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

const none: ReferenceValue = { targetType: null, targetId: null, url: null, identifierSystem: null, identifierValue: null };

/**
 * A literal reference: `Type/id` (or an absolute URL on our own base) points at a resource here;
 * any other absolute URL, URN or canonical is kept as written, for `param=url` searches.
 * Local references (`#id`) point inside the resource and index nothing.
 */
export function parseReference(reference: string, baseUrl: string): Pick<ReferenceValue, 'targetType' | 'targetId' | 'url'> | undefined {
  if (reference.startsWith('#')) return undefined;
  const local = reference.startsWith(`${baseUrl}/`) ? reference.slice(baseUrl.length + 1) : reference;
  const match = RELATIVE.exec(local);
  if (match && isResourceType(match[1])) return { targetType: match[1], targetId: match[2], url: null };
  return { targetType: null, targetId: null, url: reference };
}

/** The references a reference parameter indexes: Reference (literal and `identifier`), canonical and uri values. */
export function referenceValues(value: TypedValue, baseUrl: string): ReferenceValue[] {
  if (typeof value.value === 'string') {
    const target = parseReference(value.value, baseUrl);
    return target ? [{ ...none, ...target }] : [];
  }
  if (value.type !== 'Reference') return [];
  const reference = value.value as Reference;
  const target = reference.reference ? parseReference(reference.reference, baseUrl) : undefined;
  const identifier = reference.identifier;
  if (!target && !identifier) return [];
  return [{ ...none, ...target, identifierSystem: identifier?.system ?? null, identifierValue: identifier?.value ?? null }];
}
