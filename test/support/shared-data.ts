import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The shared test data beside the repository (`../shared/data`), wherever the repository is cloned. */
export const SHARED_DATA = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/data');
