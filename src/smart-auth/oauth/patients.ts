import type { HumanName } from '@medplum/fhirtypes';
import type { Queryable } from '../../store/index.js';

/** A patient as the patient chooser shows one. */
export interface PatientSummary {
  id: string;
  name: string;
  birthDate?: string;
}

const CHOOSER_LIMIT = 50;

function displayName(names: HumanName[] | null): string {
  const name = names?.find((candidate) => candidate.use === 'official') ?? names?.[0];
  if (!name) return '(no name)';
  if (name.text) return name.text;
  return [name.family, ...(name.given ?? [])].filter(Boolean).join(', ') || '(no name)';
}

/** Patients for the chooser, optionally those with a name containing `search`; read from the current versions. */
export async function findPatients(db: Queryable, search: string | undefined): Promise<PatientSummary[]> {
  const pattern = search ? `%${search.replace(/[\\%_]/g, '\\$&')}%` : null;
  const { rows } = await db.query<{ id: string; name: HumanName[] | null; birth_date: string | null }>(
    `SELECT r.id, r.content->'name' AS name, r.content->>'birthDate' AS birth_date
       FROM resource r
      WHERE r.resource_type = 'Patient' AND NOT r.deleted
        AND ($1::text IS NULL OR EXISTS (
          SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof(r.content->'name') WHEN 'array' THEN r.content->'name' ELSE '[]' END) AS n(name)
           WHERE concat_ws(' ', n.name->>'text', n.name->>'family', n.name->>'given') ILIKE $1))
      ORDER BY lower(r.content->'name'->0->>'family'), r.id
      LIMIT $2`,
    [pattern, CHOOSER_LIMIT],
  );
  return rows.map((row) => ({ id: row.id, name: displayName(row.name), birthDate: row.birth_date ?? undefined }));
}

export async function findPatient(db: Queryable, id: string): Promise<PatientSummary | undefined> {
  const { rows } = await db.query<{ id: string; name: HumanName[] | null; birth_date: string | null }>(
    `SELECT id, content->'name' AS name, content->>'birthDate' AS birth_date FROM resource WHERE resource_type = 'Patient' AND id = $1 AND NOT deleted`,
    [id],
  );
  return rows[0] && { id: rows[0].id, name: displayName(rows[0].name), birthDate: rows[0].birth_date ?? undefined };
}
