import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from the compiled file's place: dist-bench/lib/paths.js -> ../.. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The shared data beside the repository (`../shared/data`), unless BENCH_SHARED_DATA says otherwise. */
export const SHARED_DATA = process.env.BENCH_SHARED_DATA ?? path.resolve(PROJECT_ROOT, '../shared/data');

export const SYNTHEA_DIR = path.join(SHARED_DATA, 'synthea');

export const RESULTS_DIR = path.join(PROJECT_ROOT, 'bench/results');
