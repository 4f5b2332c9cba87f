import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import knex, { type Knex } from 'knex';

const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

/** An arbitrary constant: the advisory lock that makes concurrent start-ups migrate one at a time. */
const MIGRATION_LOCK_KEY = 7_254_001;

/** Reads migrations/ whether it holds the TypeScript sources (tests) or the compiled JavaScript (dist). */
class DirectoryMigrationSource implements Knex.MigrationSource<string> {
  async getMigrations(): Promise<string[]> {
    const files = await readdir(MIGRATIONS_DIR);
    return files.filter((file) => /^\d+_.*\.(ts|js)$/.test(file) && !file.endsWith('.d.ts')).sort();
  }

  getMigrationName(file: string): string {
    return file.replace(/\.(ts|js)$/, '');
  }

  getMigration(file: string): Promise<Knex.Migration> {
    return import(pathToFileURL(path.join(MIGRATIONS_DIR, file)).href) as Promise<Knex.Migration>;
  }
}

/**
 * Applies every pending migration. Several processes may start at once: a session-level advisory
 * lock makes the others wait (knex's own lock table would make them fail instead).
 */
export async function migrate(connectionString: string): Promise<string[]> {
  const db = knex({ client: 'pg', connection: connectionString, pool: { min: 1, max: 1 } });
  try {
    await db.raw('SELECT pg_advisory_lock(?)', [MIGRATION_LOCK_KEY]);
    const [, applied] = (await db.migrate.latest({ migrationSource: new DirectoryMigrationSource() })) as [number, string[]];
    await db.raw('SELECT pg_advisory_unlock(?)', [MIGRATION_LOCK_KEY]);
    return applied;
  } finally {
    await db.destroy();
  }
}
