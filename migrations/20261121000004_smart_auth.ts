import type { Knex } from 'knex';

/**
 * The authorization server's state. Secrets are never stored: client secrets, codes, refresh
 * tokens, launch values and interaction ids are kept as SHA-256 hashes, passwords as scrypt hashes.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE auth_user (
      id uuid PRIMARY KEY,
      username text NOT NULL UNIQUE,
      password_hash text NOT NULL,
      fhir_user text NOT NULL,
      role text NOT NULL CHECK (role IN ('patient', 'practitioner', 'admin')),
      active boolean NOT NULL DEFAULT true,
      created timestamptz NOT NULL DEFAULT now(),
      updated timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE auth_client (
      client_id text PRIMARY KEY,
      client_name text,
      secret_hash text,
      auth_method text NOT NULL CHECK (auth_method IN ('none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt')),
      redirect_uris text[] NOT NULL DEFAULT '{}',
      grant_types text[] NOT NULL DEFAULT '{}',
      scope text NOT NULL DEFAULT '',
      jwks jsonb,
      jwks_uri text,
      created timestamptz NOT NULL DEFAULT now()
    );

    -- A pending authorization request between the pages of /oauth/authorize (login, patient, consent).
    CREATE TABLE auth_interaction (
      id_hash text PRIMARY KEY,
      request jsonb NOT NULL,
      user_id uuid REFERENCES auth_user(id) ON DELETE CASCADE,
      patient text,
      expires timestamptz NOT NULL
    );

    CREATE TABLE auth_code (
      code_hash text PRIMARY KEY,
      client_id text NOT NULL REFERENCES auth_client(client_id) ON DELETE CASCADE,
      user_id uuid NOT NULL REFERENCES auth_user(id) ON DELETE CASCADE,
      redirect_uri text NOT NULL,
      scope text NOT NULL,
      code_challenge text NOT NULL,
      context jsonb NOT NULL DEFAULT '{}',   -- launch context: patient, encounter, nonce, ...
      expires timestamptz NOT NULL,
      used boolean NOT NULL DEFAULT false
    );

    -- Refresh tokens rotate: each use marks the token rotated and issues the next of the same family;
    -- presenting a rotated token again revokes the whole family.
    CREATE TABLE auth_refresh_token (
      token_hash text PRIMARY KEY,
      family_id uuid NOT NULL,
      client_id text NOT NULL REFERENCES auth_client(client_id) ON DELETE CASCADE,
      user_id uuid REFERENCES auth_user(id) ON DELETE CASCADE,
      scope text NOT NULL,
      context jsonb NOT NULL DEFAULT '{}',
      offline boolean NOT NULL,
      status text NOT NULL CHECK (status IN ('active', 'rotated', 'revoked')),
      expires timestamptz NOT NULL,
      created timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX auth_refresh_token_family_idx ON auth_refresh_token (family_id);

    CREATE TABLE auth_launch (
      id_hash text PRIMARY KEY,
      context jsonb NOT NULL,   -- patient, encounter
      created_by text NOT NULL,
      expires timestamptz NOT NULL,
      used boolean NOT NULL DEFAULT false
    );

    -- The server's signing keys; the newest signs, the others still verify until they are removed.
    CREATE TABLE auth_signing_key (
      kid text PRIMARY KEY,
      alg text NOT NULL,
      private_jwk jsonb NOT NULL,
      public_jwk jsonb NOT NULL,
      created timestamptz NOT NULL DEFAULT now()
    );

    -- Client assertion ids seen (private_key_jwt): a jti is never accepted twice.
    CREATE TABLE auth_assertion_jti (
      jti text PRIMARY KEY,
      client_id text NOT NULL,
      expires timestamptz NOT NULL
    );

    -- Access tokens revoked before they expire (RFC 7009), by their jti.
    CREATE TABLE auth_revoked_token (
      jti text PRIMARY KEY,
      expires timestamptz NOT NULL
    );

    -- Failed logins, per account and per address, for throttling.
    CREATE TABLE auth_login_failure (
      key text NOT NULL,
      at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX auth_login_failure_idx ON auth_login_failure (key, at);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE auth_login_failure, auth_revoked_token, auth_assertion_jti, auth_signing_key, auth_launch,
    auth_refresh_token, auth_code, auth_interaction, auth_client, auth_user`);
}
