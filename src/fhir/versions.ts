import { errors } from '../errors.js';

/** `W/"3"`, `"3"` or `3` -> 3; anything else is a 400, never a silent mismatch. */
export function parseETagVersion(header: string, headerName = 'If-Match'): number {
  const match = /^\s*(?:W\/)?"?(\d+)"?\s*$/.exec(header);
  if (!match) throw errors.badRequest(`Invalid ${headerName} header "${header}": expected W/"<versionId>"`);
  return Number(match[1]);
}

export function etag(versionId: number): string {
  return `W/"${versionId}"`;
}

export function parseVersionId(value: string, type: string, id: string): number {
  if (!/^[1-9]\d{0,9}$/.test(value)) throw errors.versionNotFound(type, id, value);
  return Number(value);
}
