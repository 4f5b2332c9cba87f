import { errors } from '../errors.js';

/**
 * A page position: the sort values, type and id of the row a page continues after (`next`) or
 * before (`previous`), and the total counted on the first page. Opaque to clients (base64url JSON).
 */
export interface Cursor {
  direction: 'next' | 'previous';
  values: (string | null)[];
  total?: number;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.direction === 'next' ? 'n' : 'p', cursor.values, cursor.total ?? null])).toString('base64url');
}

export function decodeCursor(token: string): Cursor {
  try {
    const [direction, values, total] = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as [string, (string | null)[], number | null];
    if ((direction !== 'n' && direction !== 'p') || !Array.isArray(values) || values.length < 2) throw new Error('bad cursor');
    if (!values.every((v) => v === null || typeof v === 'string')) throw new Error('bad cursor');
    return { direction: direction === 'n' ? 'next' : 'previous', values, total: typeof total === 'number' ? total : undefined };
  } catch {
    throw errors.invalidSearchValue('_cursor', token, 'not a page of this search; follow the links of the Bundle');
  }
}
