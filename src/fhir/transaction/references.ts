/**
 * Rewrites the references between the entries of a transaction (http.html#trules): every string in
 * a resource that is exactly an entry's fullUrl (references, uri/url/oid/uuid elements, wherever they
 * are: nested, extensions, contained) becomes the resource's new `Type/id`; so do `href` and `src`
 * attributes in the narrative.
 */
export function rewriteReferences<T>(value: T, ids: ReadonlyMap<string, string>): T {
  if (ids.size === 0) return value;
  return rewrite(value, ids) as T;
}

/**
 * Copy on write: an array or object is copied only when something inside it changes, so that the
 * resources of a large Bundle are not held twice (the original stays intact for a retry).
 */
function rewrite(value: unknown, ids: ReadonlyMap<string, string>, key?: string): unknown {
  if (typeof value === 'string') {
    const replacement = ids.get(value);
    if (replacement) return replacement;
    return key === 'div' ? rewriteNarrativeLinks(value, ids) : value;
  }
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, i) => {
      const rewritten = rewrite(item, ids);
      if (rewritten !== item) (copy ??= [...value])[i] = rewritten;
    });
    return copy ?? value;
  }
  if (value && typeof value === 'object') {
    let copy: Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(value)) {
      const rewritten = rewrite(v, ids, k);
      if (rewritten !== v) (copy ??= { ...value })[k] = rewritten;
    }
    return copy ?? value;
  }
  return value;
}

function rewriteNarrativeLinks(div: string, ids: ReadonlyMap<string, string>): string {
  return div.replace(/\b(href|src)=(["'])(.*?)\2/g, (whole, attr: string, quote: string, url: string) => {
    const replacement = ids.get(url);
    return replacement ? `${attr}=${quote}${replacement}${quote}` : whole;
  });
}

/** Every `reference` value in a resource that `wanted` accepts, at any depth. */
function referencesWhere(value: unknown, wanted: (reference: string) => boolean, found: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) referencesWhere(item, wanted, found);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reference' && typeof v === 'string' && wanted(v)) found.add(v);
      else referencesWhere(v, wanted, found);
    }
  }
  return found;
}

/** Every `reference` value in a resource that is a conditional reference (`Patient?identifier=x|y`). */
export function conditionalReferences(value: unknown): Set<string> {
  return referencesWhere(value, (reference) => /^[A-Z][A-Za-z]+\?./.test(reference));
}

/**
 * A `reference` in a resource that is still a `urn:uuid:` placeholder once the entries' fullUrls
 * are rewritten: it names no entry of the transaction, and stored it would refer to nothing.
 */
export function unresolvedPlaceholder(value: unknown): string | undefined {
  return referencesWhere(value, (reference) => reference.startsWith('urn:uuid:')).values().next().value;
}
