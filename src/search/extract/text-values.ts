import type { Resource } from '@medplum/fhirtypes';
import type { TextRow } from './rows.js';

/** The narrative's text, without its XHTML markup, for `_text`. */
function narrativeText(resource: Resource): string {
  const div = (resource as { text?: { div?: string } }).text?.div ?? '';
  return div.replace(/<[^>]*>/g, ' ').replace(/&[a-z#0-9]+;/gi, ' ').replace(/\s+/g, ' ').trim();
}

/** Every string value in the resource, for `_content` (the narrative included, without its markup). */
function contentText(value: unknown, into: string[]): string[] {
  if (typeof value === 'string') into.push(value);
  else if (Array.isArray(value)) for (const item of value) contentText(item, into);
  else if (value && typeof value === 'object') {
    // for-in rather than Object.entries: no array per object, and JSON objects inherit no keys.
    for (const key in value) {
      const item = (value as Record<string, unknown>)[key];
      if (key === 'div' && typeof item === 'string') into.push(item.replace(/<[^>]*>/g, ' '));
      else if (key !== 'resourceType' && key !== 'id' && key !== 'meta') contentText(item, into);
    }
  }
  return into;
}

/**
 * Types whose text is not indexed for `_text` and `_content`: the server writes an AuditEvent for
 * every request, and its full-text index (a tsvector and two GIN entries) was the largest part of
 * that record's cost, for a search nobody makes of audit records.
 */
const NOT_FULL_TEXT_INDEXED: ReadonlySet<string> = new Set(['AuditEvent']);

export function isFullTextIndexed(type: string): boolean {
  return !NOT_FULL_TEXT_INDEXED.has(type);
}

/** The full-text search content of a resource (`_text`, `_content`; PostgreSQL full-text search). */
export function textValues(resource: Resource): TextRow | undefined {
  if (!isFullTextIndexed(resource.resourceType)) return undefined;
  const narrative = narrativeText(resource);
  const content = contentText(resource, []).join(' ');
  return narrative || content ? { narrative, content } : undefined;
}
