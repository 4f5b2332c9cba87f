import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate, startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/store/index.js';
import { databaseUrl } from './database-url.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    templateDatabase: string;
  }
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Once per run: a PostgreSQL (DATABASE_URL, else an embedded one in a temporary directory) and a
 * migrated template database that each test file clones into a database of its own.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let embedded: EmbeddedDatabase | undefined;
  if (!process.env.DATABASE_URL) {
    embedded = await startEmbeddedPostgres(await mkdtemp(path.join(tmpdir(), 'fhir-test-pg-')), { persistent: false });
  }
  const adminUrl = process.env.DATABASE_URL ?? (embedded as EmbeddedDatabase).url;
  const template = `fhir_template_${process.pid}`;
  try {
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${template}`);
    await adminQuery(adminUrl, `CREATE DATABASE ${template}`);
    await migrate(databaseUrl(adminUrl, template));
  } catch (error) {
    // Vitest runs no teardown after a failed setup: a failing migration would leave the embedded server running.
    await embedded?.stop();
    throw error;
  }
  project.provide('adminDatabaseUrl', adminUrl);
  project.provide('templateDatabase', template);
  return async () => {
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    await embedded?.stop();
  };
}
