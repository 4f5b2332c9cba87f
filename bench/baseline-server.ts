/**
 * The baseline: a bare fastify + pg server doing only the database work a FHIR server cannot
 * avoid, measured in the same run as ours so that the ratio survives a noisy machine.
 *   GET  /fhir/:type/:id  one indexed SELECT of the stored JSON text, answered as it is
 *   POST /fhir/:type      one INSERT of the resource (id and meta assigned) into a copy of our
 *                         `resource` table (same columns and indexes), answered with the JSON
 * Started by `bench/run.ts` as a separate process: PORT, HOST, DATABASE_URL, DB_POOL_SIZE.
 */
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import pg from 'pg';

const SCHEMA = 'bench_baseline';
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DB_POOL_SIZE ?? 20) });
pool.on('error', () => undefined);

// A copy of our table, indexes included, so the INSERT pays for the same index maintenance.
await pool.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
await pool.query(`CREATE TABLE IF NOT EXISTS ${SCHEMA}.resource (LIKE public.resource INCLUDING ALL)`);

const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
app.addContentTypeParser(['application/fhir+json', 'application/json'], { parseAs: 'string' }, (_request, body, done) => {
  try {
    done(null, JSON.parse(body as string));
  } catch (error) {
    done(error as Error, undefined);
  }
});

app.get('/readyz', async () => ({ status: 'ready' }));

app.get<{ Params: { type: string; id: string } }>('/fhir/:type/:id', async (request, reply) => {
  const { rows } = await pool.query<{ json: string }>({
    name: 'read',
    text: 'SELECT content::text AS json FROM resource WHERE resource_type = $1 AND id = $2',
    values: [request.params.type, request.params.id],
  });
  if (rows.length === 0) return reply.code(404).send();
  return reply.type('application/fhir+json; charset=utf-8').send(rows[0].json);
});

app.post<{ Params: { type: string }; Body: Record<string, unknown> }>('/fhir/:type', async (request, reply) => {
  const id = randomUUID();
  const lastUpdated = new Date();
  const resource = { ...request.body, id, meta: { versionId: '1', lastUpdated: lastUpdated.toISOString() } };
  const json = JSON.stringify(resource);
  await pool.query({
    name: 'insert',
    text: `INSERT INTO ${SCHEMA}.resource (resource_type, id, version_id, last_updated, content) VALUES ($1, $2, 1, $3, $4)`,
    values: [request.params.type, id, lastUpdated, json],
  });
  return reply.code(201).type('application/fhir+json; charset=utf-8').header('location', `/fhir/${request.params.type}/${id}/_history/1`).send(json);
});

const shutdown = async () => {
  await app.close();
  await pool.end();
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());

await app.listen({ port: Number(process.env.PORT ?? 8090), host: process.env.HOST ?? '127.0.0.1' });
