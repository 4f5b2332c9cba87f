import { bulkExport } from './bulk-export.js';
import type { Benchmark } from './context.js';
import { conditionalCreate, create, read, update, vread } from './crud.js';
import { history } from './history.js';
import { ingest } from './ingest.js';
import { include, searchPage } from './pages.js';
import { largeBundleBenchmark } from './large-bundle.js';
import { search } from './search.js';
import { subscriptions } from './subscriptions.js';
import { transactionBundle } from './transaction.js';

/** Every benchmark, in the order `npm run bench` runs them (those that add data late). */
export const BENCHMARKS: Benchmark[] = [read, vread, searchPage, include, history, search, bulkExport, create, update, conditionalCreate, transactionBundle, ingest, subscriptions, largeBundleBenchmark];
