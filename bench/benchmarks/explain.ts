import { writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { RESULTS_DIR } from '../lib/paths.js';
import type { BenchDatabase } from '../lib/database.js';
import type { FhirClient } from '../lib/fhir-client.js';
import { sleep } from '../lib/net.js';

/** One SQL statement the server ran for a request, with its plan as PostgreSQL executed it. */
export interface ExplainedStatement {
  durationMs: number;
  query: string;
  /** Tables read by a sequential scan. */
  seqScans: string[];
  indexes: string[];
  sharedHitBlocks: number;
  sharedReadBlocks: number;
  /** The plan as an indented tree, one node a line. */
  plan: string;
}

export interface ExplainReport {
  label: string;
  path: string;
  statements: ExplainedStatement[];
  /** Sequential scans over the big tables (resources, history, search indexes). */
  bigSeqScans: string[];
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Actual Total Time'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  'Index Cond'?: string;
  Filter?: string;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

const BIG_TABLES = /^(resource|resource_history|search_\w+)$/;
const MARKER = 'bench-explain-marker-';

/**
 * `EXPLAIN (ANALYZE, BUFFERS)` of the statements the server itself runs for each request: the
 * embedded PostgreSQL has `auto_explain` loaded; it is switched on (ALTER SYSTEM, reload) only
 * while the requests are sent one at a time, with a marker statement between requests to tell
 * whose plans are whose in the log. Needs the run's embedded database (its log is ours).
 */
export async function explainRequests(db: BenchDatabase, client: FhirClient, requests: { label: string; path: string }[]): Promise<ExplainReport[] | undefined> {
  if (!db.log) return undefined;
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  try {
    await admin.query('ALTER SYSTEM SET auto_explain.log_min_duration = 0');
    await admin.query('SELECT pg_reload_conf()');
    await sleep(500);
    db.log.take();
    db.log.capturing = true;
    for (let i = 0; i < requests.length; i++) {
      await admin.query(`SELECT '${MARKER}${i}' AS marker`);
      await client.request('GET', requests[i].path);
    }
    await admin.query(`SELECT '${MARKER}${requests.length}' AS marker`);
    await sleep(1000);
  } finally {
    db.log.capturing = false;
    await admin.query('ALTER SYSTEM RESET auto_explain.log_min_duration').catch(() => undefined);
    await admin.query('SELECT pg_reload_conf()').catch(() => undefined);
    await admin.end();
  }
  const statements = parseLog(db.log.take());
  const reports: ExplainReport[] = requests.map((request) => ({ ...request, statements: [], bigSeqScans: [] }));
  let current = -1;
  for (const statement of statements) {
    const marker = new RegExp(`${MARKER}(\\d+)`).exec(statement.query);
    if (marker) {
      current = Number(marker[1]);
      continue;
    }
    const report = reports[current];
    if (!report) continue;
    report.statements.push(statement);
    for (const table of statement.seqScans) if (BIG_TABLES.test(table) && !report.bigSeqScans.includes(table)) report.bigSeqScans.push(table);
  }
  return reports;
}

/** The auto_explain records (JSON format) in PostgreSQL's stderr output. */
function parseLog(text: string): ExplainedStatement[] {
  const statements: ExplainedStatement[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const head = /duration: ([\d.]+) ms\s+plan:/.exec(lines[i]);
    if (!head) continue;
    // PostgreSQL writes the rest of a multi-line message with a tab at the start of each line.
    const body: string[] = [];
    while (i + 1 < lines.length && lines[i + 1].startsWith('\t')) body.push(lines[++i].slice(1));
    let parsed: { 'Query Text'?: string; Plan?: PlanNode };
    try {
      parsed = JSON.parse(body.join('\n')) as typeof parsed;
    } catch {
      continue;
    }
    if (!parsed.Plan) continue;
    const seqScans: string[] = [];
    const indexes: string[] = [];
    const tree: string[] = [];
    const walk = (node: PlanNode, depth: number) => {
      if (node['Node Type'] === 'Seq Scan' && node['Relation Name']) seqScans.push(node['Relation Name']);
      if (node['Index Name'] && !indexes.includes(node['Index Name'])) indexes.push(node['Index Name']);
      const on = node['Relation Name'] ? ` on ${node['Relation Name']}` : '';
      const using = node['Index Name'] ? ` using ${node['Index Name']}` : '';
      const removed = node['Rows Removed by Filter'] ? ` removed=${node['Rows Removed by Filter']}` : '';
      tree.push(
        `${'  '.repeat(depth)}${depth ? '-> ' : ''}${node['Node Type']}${using}${on} (rows=${node['Actual Rows'] ?? '?'} loops=${node['Actual Loops'] ?? '?'} time=${node['Actual Total Time'] ?? '?'} ms${removed})`,
      );
      for (const child of node.Plans ?? []) walk(child, depth + 1);
    };
    walk(parsed.Plan, 0);
    statements.push({
      durationMs: Number(head[1]),
      query: (parsed['Query Text'] ?? '').replace(/\s+/g, ' ').trim(),
      seqScans,
      indexes,
      sharedHitBlocks: parsed.Plan['Shared Hit Blocks'] ?? 0,
      sharedReadBlocks: parsed.Plan['Shared Read Blocks'] ?? 0,
      plan: tree.join('\n'),
    });
  }
  return statements;
}

/** The summary printed after bench:search: per request, its statements, time, index use. */
export function formatExplainSummary(reports: ExplainReport[]): string {
  const lines: string[] = [];
  for (const report of reports) {
    const ms = report.statements.reduce((sum, s) => sum + s.durationMs, 0);
    const seq = report.bigSeqScans.length ? `SEQ SCAN on ${report.bigSeqScans.join(', ')}` : 'no seq scan on big tables';
    lines.push(`${report.label}: ${report.statements.length} statement(s), ${ms.toFixed(2)} ms in SQL, ${seq}`);
    for (const statement of report.statements) {
      const scans = [...statement.indexes.map((i) => `idx ${i}`), ...statement.seqScans.map((t) => `seq ${t}`)].join(', ') || 'no table access';
      lines.push(`    ${statement.durationMs.toFixed(2).padStart(8)} ms  buffers hit=${statement.sharedHitBlocks} read=${statement.sharedReadBlocks}  ${scans}`);
    }
  }
  return lines.join('\n');
}

/** Every statement with its SQL and plan tree, for the results folder. */
export function formatExplainFull(reports: ExplainReport[]): string {
  return reports
    .map((report) =>
      [
        `=== ${report.label}`,
        `GET ${report.path}`,
        ...report.statements.map((s) => `--- ${s.durationMs.toFixed(3)} ms, buffers hit=${s.sharedHitBlocks} read=${s.sharedReadBlocks}\n${s.query}\n${s.plan}`),
      ].join('\n'),
    )
    .join('\n\n');
}

/**
 * Explains the examples, writes every plan to `bench/results/<name>-explain-<date>.txt`, prints
 * the summary, and adds a note to `notes` (by label) where a big table was read sequentially.
 */
export async function explainExamples(
  db: BenchDatabase,
  client: FhirClient,
  name: string,
  examples: { label: string; path: string }[],
  notes: Map<string, string[]>,
): Promise<{ reports: ExplainReport[]; file: string } | undefined> {
  const reports = await explainRequests(db, client, examples);
  if (!reports) {
    process.stderr.write('EXPLAIN skipped: it reads the plans from the log of the embedded PostgreSQL the benchmark starts; unset DATABASE_URL (BENCH_DATA_DIR keeps the data)\n');
    return undefined;
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = path.join(RESULTS_DIR, `${name}-explain-${stamp}.txt`);
  writeFileSync(file, `${formatExplainFull(reports)}\n`);
  process.stderr.write(`\nEXPLAIN (ANALYZE, BUFFERS) of the server's SQL, one request each (plans in ${file}):\n${formatExplainSummary(reports)}\n\n`);
  for (const report of reports) {
    if (!report.bigSeqScans.length) continue;
    if (!notes.has(report.label)) notes.set(report.label, []);
    notes.get(report.label)?.push(`EXPLAIN: sequential scan on ${report.bigSeqScans.join(', ')}`);
  }
  return { reports, file };
}
