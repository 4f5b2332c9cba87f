import type { Knex } from 'knex';

const INDEX_TABLES = [
  'search_string',
  'search_token',
  'search_date',
  'search_number',
  'search_quantity',
  'search_reference',
  'search_uri',
  'search_composite',
  'search_text',
];

/**
 * Search indexes, one table per parameter type (as HAPI does), written in the same transaction as
 * the resource by the write path. Each row is one indexed value of one parameter (`param` is the
 * SearchParameter's code) of one resource. Dates and numbers are stored as ranges [low, high) so
 * that partial dates and the precision of numbers give exact prefix semantics.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE EXTENSION IF NOT EXISTS pg_trgm;

    CREATE TABLE search_string (
      resource_type text NOT NULL, id text NOT NULL, param text NOT NULL,
      value text NOT NULL,   -- case and accents folded, for prefix and :contains
      exact text NOT NULL    -- as written, for :exact
    );
    CREATE INDEX search_string_value_idx ON search_string (resource_type, param, value text_pattern_ops);
    CREATE INDEX search_string_trgm_idx ON search_string USING gin (value gin_trgm_ops);

    CREATE TABLE search_token (
      resource_type text NOT NULL, id text NOT NULL, param text NOT NULL,
      system text, code text,
      text text,             -- folded display / CodeableConcept.text / Identifier.type.text, for :text
      type_system text, type_code text   -- Identifier.type, for :of-type
    );
    CREATE INDEX search_token_code_idx ON search_token (resource_type, param, code, system);

    CREATE TABLE search_date (
      resource_type text NOT NULL, id text NOT NULL, param text NOT NULL,
      low timestamptz NOT NULL, high timestamptz NOT NULL
    );
    CREATE INDEX search_date_range_idx ON search_date (resource_type, param, low, high);

    CREATE TABLE search_number (
      resource_type text NOT NULL, id text NOT NULL, param text NOT NULL,
      value numeric NOT NULL, low numeric NOT NULL, high numeric NOT NULL
    );
    CREATE INDEX search_number_idx ON search_number (resource_type, param, low, high);

    CREATE TABLE search_quantity (
      resource_type text NOT NULL, id text NOT NULL, param text NOT NULL,
      system text, code text, unit text,
      value numeric NOT NULL, low numeric NOT NULL, high numeric NOT NULL,
      canonical_code text, canonical_low numeric, canonical_high numeric   -- UCUM base units
    );
    CREATE INDEX search_quantity_idx ON search_quantity (resource_type, param, low, high);
    CREATE INDEX search_quantity_canonical_idx ON search_quantity (resource_type, param, canonical_code, canonical_low);

    CREATE TABLE search_reference (
      resource_type text NOT NULL, id text NOT NULL, param text NOT NULL,
      target_type text, target_id text,   -- a reference to a resource on this server
      url text,                           -- an absolute or canonical reference, as written
      identifier_system text, identifier_value text   -- Reference.identifier, for :identifier
    );
    CREATE INDEX search_reference_source_idx ON search_reference (resource_type, param, target_id, target_type);
    CREATE INDEX search_reference_target_idx ON search_reference (target_type, target_id, param);
    CREATE INDEX search_reference_url_idx ON search_reference (resource_type, param, url) WHERE url IS NOT NULL;

    CREATE TABLE search_uri (
      resource_type text NOT NULL, id text NOT NULL, param text NOT NULL,
      uri text NOT NULL
    );
    CREATE INDEX search_uri_idx ON search_uri (resource_type, param, uri text_pattern_ops);

    -- One row per element of a composite parameter, with the values of its components side by side.
    -- The first component is a token (or a reference, as "Type/id" in c1_code); the others are typed slots.
    CREATE TABLE search_composite (
      resource_type text NOT NULL, id text NOT NULL, param text NOT NULL,
      c1_system text, c1_code text,
      c2_system text, c2_code text, c2_text text,
      c2_low numeric, c2_high numeric, c2_canonical_code text, c2_canonical_low numeric, c2_canonical_high numeric,
      c2_date_low timestamptz, c2_date_high timestamptz,
      c3_low numeric, c3_high numeric
    );
    CREATE INDEX search_composite_idx ON search_composite (resource_type, param, c1_code, c1_system);

    CREATE TABLE search_text (
      resource_type text NOT NULL, id text NOT NULL,
      narrative tsvector, content tsvector
    );
    CREATE INDEX search_text_narrative_idx ON search_text USING gin (narrative);
    CREATE INDEX search_text_content_idx ON search_text USING gin (content);
  `);
  // Every table is also reached by its resource: to replace a resource's rows, and to join back.
  for (const table of INDEX_TABLES) {
    await knex.raw(`CREATE INDEX ${table}_resource_idx ON ${table} (resource_type, id)`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of INDEX_TABLES) await knex.raw(`DROP TABLE ${table}`);
}
