import type { Knex } from 'knex';

/**
 * What was issued from a grant, so that it can be taken back: a reused authorization code revokes
 * the access token and the refresh-token family issued from it (RFC 6749 §4.1.2, RFC 9700 §4.14),
 * and a revoked refresh-token family revokes the access tokens issued along with its members.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE auth_code
      ADD COLUMN reused boolean NOT NULL DEFAULT false,
      ADD COLUMN refresh_family uuid,
      ADD COLUMN access_jti text,
      ADD COLUMN access_expires timestamptz;

    ALTER TABLE auth_refresh_token
      ADD COLUMN access_jti text,
      ADD COLUMN access_expires timestamptz;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE auth_refresh_token DROP COLUMN access_jti, DROP COLUMN access_expires;
    ALTER TABLE auth_code DROP COLUMN reused, DROP COLUMN refresh_family, DROP COLUMN access_jti, DROP COLUMN access_expires;
  `);
}
