import type { FhirClient } from '../lib/fhir-client.js';

interface SearchBundle {
  resourceType?: string;
  total?: number;
  link?: { relation?: string; url?: string }[];
  entry?: { search?: { mode?: string }; resource?: { resourceType?: string; issue?: { diagnostics?: string; severity?: string }[] } }[];
}

/** What one search answered: counts by search mode, warnings, the next link. */
export interface SearchCheck {
  status: number;
  matches: number;
  included: number;
  total?: number;
  warnings: string[];
  next?: string;
  ms: number;
}

export async function checkSearch(client: FhirClient, pathOrUrl: string): Promise<SearchCheck> {
  const response = await client.request('GET', pathOrUrl);
  if (response.status !== 200) return { status: response.status, matches: 0, included: 0, warnings: [response.text.slice(0, 300)], ms: response.ms };
  const bundle = JSON.parse(response.text) as SearchBundle;
  const check: SearchCheck = { status: 200, matches: 0, included: 0, total: bundle.total, warnings: [], ms: response.ms };
  for (const entry of bundle.entry ?? []) {
    const mode = entry.search?.mode ?? 'match';
    if (mode === 'outcome' || entry.resource?.resourceType === 'OperationOutcome') {
      for (const issue of entry.resource?.issue ?? []) check.warnings.push(`${issue.severity ?? 'warning'}: ${issue.diagnostics ?? ''}`);
    } else if (mode === 'include') check.included++;
    else check.matches++;
  }
  check.next = bundle.link?.find((link) => link.relation === 'next')?.url;
  return check;
}

/** `12 matches (total 340), 5 included` and any warnings, for a row's notes. */
export function describeCheck(check: SearchCheck): string[] {
  if (check.status !== 200) return [`answered ${check.status}: ${check.warnings.join('; ')}`];
  const total = check.total !== undefined ? ` (total ${check.total})` : '';
  const notes = [`${check.matches} matches${total}${check.included ? `, ${check.included} included` : ''}`];
  if (check.matches === 0) notes.push('NO MATCHES: the query measures nothing useful; check the data set and the parameters');
  for (const warning of check.warnings) notes.push(`server says ${warning}`);
  return notes;
}

/** A path with its origin removed, so autocannon can request a `next` link the server wrote. */
export function pathOf(url: string): string {
  const parsed = new URL(url);
  return parsed.pathname + parsed.search;
}
