import { createHash } from 'node:crypto';
import type pg from 'pg';

/** A session keeps each prepared statement's plans: beyond this many, further ones are planned each time. */
const PREPARED_PER_CONNECTION = 100;

/** The statements each connection has prepared. */
const preparedNames = new WeakMap<pg.ClientBase, Set<string>>();

/** Names by text, for the texts seen most recently: the same few texts come back on every request. */
const namesByText = new Map<string, string>();
const NAMES_KEPT = 1000;

function statementName(text: string): string {
  let name = namesByText.get(text);
  if (name) return name;
  name = `s_${createHash('sha1').update(text).digest('base64url')}`;
  if (namesByText.size >= NAMES_KEPT) namesByText.clear();
  namesByText.set(text, name);
  return name;
}

/**
 * Runs `text` as a named prepared statement of the connection: PostgreSQL plans it for its first
 * runs and then, when a generic plan costs no more, reuses that plan. For the searches, whose
 * planning cost more than their execution, reads by id, and the write path's batched inserts, whose
 * parsing and planning were about a fifth of PostgreSQL's time per create. A connection prepares at
 * most PREPARED_PER_CONNECTION statements; the pools replace their connections now and then
 * (MAX_USES_PER_CONNECTION), and the statements go with them.
 */
export function queryPreparedOn<R extends pg.QueryResultRow>(client: pg.ClientBase, text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
  let names = preparedNames.get(client);
  if (!names) preparedNames.set(client, (names = new Set()));
  const name = statementName(text);
  if (!names.has(name) && names.size >= PREPARED_PER_CONNECTION) return client.query<R>(text, values);
  names.add(name);
  return client.query<R>({ name, text, values });
}
