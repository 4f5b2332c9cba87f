import type { Coding, Meta } from '@medplum/fhirtypes';
import type { Queryable } from './database.js';

/** The profiles, tags and security labels used by the current resources of one type, or of all. */
export async function metaInUse(db: Queryable, resourceType?: string): Promise<Meta> {
  const { rows } = await db.query<{ kind: 'profile' | 'tag' | 'security'; value: string | Coding }>(
    `SELECT DISTINCT k.kind, v.value
       FROM resource r
      CROSS JOIN (VALUES ('profile'), ('tag'), ('security')) AS k(kind)
      CROSS JOIN LATERAL jsonb_array_elements(coalesce(r.content -> 'meta' -> k.kind, '[]'::jsonb)) AS v(value)
      WHERE NOT r.deleted AND ($1::text IS NULL OR r.resource_type = $1)`,
    [resourceType ?? null],
  );
  const meta: Meta = {};
  for (const { kind, value } of rows) {
    if (kind === 'profile') (meta.profile ??= []).push(value as string);
    else (meta[kind] ??= []).push(value as Coding);
  }
  return meta;
}
