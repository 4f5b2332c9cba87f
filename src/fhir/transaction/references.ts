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

function rewrite(value: unknown, ids: ReadonlyMap<string, string>, key?: string): unknown {
  if (typeof value === 'string') {
    const replacement = ids.get(value);
    if (replacement) return replacement;
    return key === 'div' ? rewriteNarrativeLinks(value, ids) : value;
  }
  if (Array.isArray(value)) return value.map((item) => rewrite(item, ids));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewrite(v, ids, k)]));
  }
  return value;
}

function rewriteNarrativeLinks(div: string, ids: ReadonlyMap<string, string>): string {
  return div.replace(/\b(href|src)=(["'])(.*?)\2/g, (whole, attr: string, quote: string, url: string) => {
    const replacement = ids.get(url);
    return replacement ? `${attr}=${quote}${replacement}${quote}` : whole;
  });
}

/** Every `reference` value in a resource that is a conditional reference (`Patient?identifier=x|y`). */
export function conditionalReferences(value: unknown, found: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) conditionalReferences(item, found);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reference' && typeof v === 'string' && /^[A-Z][A-Za-z]+\?./.test(v)) found.add(v);
      else conditionalReferences(v, found);
    }
  }
  return found;
}
