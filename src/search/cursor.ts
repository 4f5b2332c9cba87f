import { errors } from '../errors.js';

/**
 * A page position: the sort values, type and id of the row a page continues after (`next`) or
 * before (`previous`), the total counted on the first page, and the instant the first page was
 * read (`asOf`): later pages leave out what was written after it, so that a resource created or
 * changed while a client pages (which may move it past the cursor) is never visited twice.
 * Opaque to clients (base64url JSON).
 */
export interface Cursor {
  direction: 'next' | 'previous';
  values: (string | null)[];
  total?: number;
  asOf: string;
}

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/;

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.direction === 'next' ? 'n' : 'p', cursor.values, cursor.total ?? null, cursor.asOf])).toString('base64url');
}

export function decodeCursor(token: string): Cursor {
  try {
    const [direction, values, total, asOf] = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as [string, (string | null)[], number | null, string];
    if ((direction !== 'n' && direction !== 'p') || !Array.isArray(values) || values.length < 2) throw new Error('bad cursor');
    if (!values.every((v) => v === null || typeof v === 'string')) throw new Error('bad cursor');
    if (total !== null && !(Number.isInteger(total) && total >= 0)) throw new Error('bad cursor');
    if (typeof asOf !== 'string' || !INSTANT.test(asOf) || Number.isNaN(Date.parse(asOf))) throw new Error('bad cursor');
    return { direction: direction === 'n' ? 'next' : 'previous', values, total: total ?? undefined, asOf };
  } catch {
    throw errors.invalidSearchValue('_cursor', token, 'not a page of this search; follow the links of the Bundle');
  }
}
