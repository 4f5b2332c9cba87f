import type { Knex } from 'knex';

/**
 * Every resource type lives in one pair of tables: `resource` holds the current version of each
 * resource (deleted ones as tombstones, so a read can answer 410), `resource_history` every version.
 * `resource_history.seq` orders all changes and is the durable change feed that subscriptions read.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE resource (
      resource_type text NOT NULL,
      id text NOT NULL,
      version_id integer NOT NULL,
      last_updated timestamptz NOT NULL,
      deleted boolean NOT NULL DEFAULT false,
      content jsonb,
      PRIMARY KEY (resource_type, id)
    );
    CREATE INDEX resource_identifier_idx ON resource USING gin ((content -> 'identifier') jsonb_path_ops);
    CREATE INDEX resource_type_updated_idx ON resource (resource_type, last_updated, id);

    CREATE TABLE resource_history (
      seq bigserial PRIMARY KEY,
      resource_type text NOT NULL,
      id text NOT NULL,
      version_id integer NOT NULL,
      last_updated timestamptz NOT NULL,
      method text NOT NULL CHECK (method IN ('POST', 'PUT', 'PATCH', 'DELETE')),
      content jsonb,
      UNIQUE (resource_type, id, version_id)
    );
    CREATE INDEX resource_history_type_idx ON resource_history (resource_type, seq);
    CREATE INDEX resource_history_updated_idx ON resource_history (last_updated);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE resource_history; DROP TABLE resource;');
}
