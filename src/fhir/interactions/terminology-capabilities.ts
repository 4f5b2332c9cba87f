import type { TerminologyCapabilities } from '@medplum/fhirtypes';
import type { Queryable } from '../../store/index.js';
import { definitionCodeSystemUrls } from '../../terminology/index.js';

async function storedCodeSystemUrls(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ url: string }>(
    `SELECT DISTINCT content->>'url' AS url FROM resource WHERE resource_type = 'CodeSystem' AND NOT deleted AND content ? 'url'`,
  );
  return rows.map((row) => row.url);
}

/**
 * `GET [base]/metadata?mode=terminology` (http.html#capabilities): what the terminology operations
 * ($expand, $lookup, $validate-code) know, the code systems of the R4 definitions and those stored
 * here, and how $expand pages and filters.
 */
export async function terminologyCapabilities(db: Queryable, about: Pick<TerminologyCapabilities, 'software' | 'implementation'>): Promise<TerminologyCapabilities> {
  const urls = [...new Set([...definitionCodeSystemUrls(), ...(await storedCodeSystemUrls(db))])].sort();
  return {
    resourceType: 'TerminologyCapabilities',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    ...about,
    codeSystem: urls.map((uri) => ({ uri })),
    expansion: { hierarchical: false, paging: true, incomplete: false, textFilter: 'Codes whose code or display contains the filter text, in any case' },
    validateCode: { translations: false },
  };
}
