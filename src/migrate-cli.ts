import { configFromEnv, loadDotEnv } from './config.js';
import { migrate, startEmbeddedPostgres } from './store/index.js';

/** `npm run migrate`: applies pending migrations to DATABASE_URL, or to the embedded database in DATA_DIR. */
loadDotEnv();
const config = configFromEnv();
const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(config.dataDir);
try {
  const applied = await migrate(config.databaseUrl ?? (embedded?.url as string));
  console.log(applied.length ? `applied: ${applied.join(', ')}` : 'already up to date');
} finally {
  await embedded?.stop();
}
