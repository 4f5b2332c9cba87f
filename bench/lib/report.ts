import { cpus, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RESULTS_DIR } from './paths.js';
import type { CpuPerRequest } from './cpu.js';
import type { LatencySummary } from './stats.js';

/** One measured line of a benchmark table. */
export interface Row {
  benchmark: string;
  label: string;
  connections: number;
  requests: number;
  rps: number;
  /** For Bundles: resources per second (requests/s times resources per request). */
  unit?: string;
  unitsPerSecond?: number;
  latency: LatencySummary;
  failures: number;
  statusCounts: Record<string, number>;
  /** The baseline this row is compared with, measured in the same run at the same concurrency. */
  baseline?: { kind: 'read' | 'insert'; rps: number; p50: number; p95: number; p99: number };
  /** Our throughput (resources/s where that is the unit) over the baseline's requests/s. */
  ratio?: number;
  /** The server's peak resident memory during the measurement. */
  peakRssMb?: number;
  /** CPU per answered request of the measured service and of PostgreSQL (read from /proc). */
  cpu?: CpuPerRequest;
  notes: string[];
}

const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
const int = (value: number) => Math.round(value).toLocaleString('en-US');

const COLUMNS: { title: string; align: 'l' | 'r'; value: (row: Row) => string }[] = [
  { title: 'benchmark', align: 'l', value: (row) => row.label },
  { title: 'conns', align: 'r', value: (row) => String(row.connections) },
  { title: 'req/s', align: 'r', value: (row) => (row.rps >= 100 ? int(row.rps) : fixed(row.rps)) },
  { title: 'res/s', align: 'r', value: (row) => (row.unitsPerSecond !== undefined ? int(row.unitsPerSecond) : '') },
  { title: 'p50 ms', align: 'r', value: (row) => fixed(row.latency.p50) },
  { title: 'p95 ms', align: 'r', value: (row) => fixed(row.latency.p95) },
  { title: 'p99 ms', align: 'r', value: (row) => fixed(row.latency.p99) },
  { title: 'failed', align: 'r', value: (row) => (row.failures ? int(row.failures) : '0') },
  { title: 'baseline', align: 'l', value: (row) => (row.baseline ? `${row.baseline.kind} ${int(row.baseline.rps)}/s` : '') },
  { title: 'ratio', align: 'r', value: (row) => (row.ratio !== undefined ? `${(row.ratio * 100).toFixed(row.ratio < 0.1 ? 1 : 0)}%` : '') },
  { title: 'RSS MB', align: 'r', value: (row) => (row.peakRssMb ? int(row.peakRssMb) : '') },
  { title: 'CPU ms/req', align: 'r', value: (row) => (row.cpu ? fixed(row.cpu.serviceMs, 3) : '') },
  { title: 'PG ms/req', align: 'r', value: (row) => (row.cpu ? fixed(row.cpu.postgresMs, 3) : '') },
];

/** A plain-text table, also valid Markdown. */
export function formatTable(rows: Row[]): string {
  const cells = rows.map((row) => COLUMNS.map((column) => column.value(row)));
  const widths = COLUMNS.map((column, i) => Math.max(column.title.length, ...cells.map((line) => line[i].length)));
  const line = (values: string[]) =>
    `| ${values.map((value, i) => (COLUMNS[i].align === 'r' ? value.padStart(widths[i]) : value.padEnd(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (COLUMNS[i].align === 'r' ? `${'-'.repeat(w + 1)}:` : `:${'-'.repeat(w + 1)}`)).join('|')}|`;
  return [line(COLUMNS.map((c) => c.title)), rule, ...cells.map(line)].join('\n');
}

/** Notes of the rows (what was requested, result sizes, warnings), once per benchmark line. */
export function formatNotes(rows: Row[]): string {
  const notes = new Map<string, { label: string; note: string; connections: number[] }>();
  for (const row of rows) {
    for (const note of row.notes) {
      const key = `${row.label}\u0000${note}`;
      const known = notes.get(key);
      if (known) known.connections.push(row.connections);
      else notes.set(key, { label: row.label, note, connections: [row.connections] });
    }
  }
  const all = new Set(rows.map((row) => row.connections)).size;
  return [...notes.values()]
    .map(({ label, note, connections }) => `- ${label}${connections.length < all ? ` (${connections.join(', ')} conns)` : ''}: ${note}`)
    .join('\n');
}

export function machine(): Record<string, unknown> {
  const cpu = cpus();
  return {
    cores: cpu.length,
    cpu: cpu[0]?.model,
    memoryGb: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

/** `bench/results/<name>-<date>.json` (gitignored). */
export function writeResults(name: string, payload: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = path.join(RESULTS_DIR, `${name}-${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(payload, null, 2)}\n`);
  return file;
}
