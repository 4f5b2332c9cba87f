import type { Knex } from 'knex';

/**
 * The change feed as subscriptions read it, and their durable state.
 *
 * `resource_history.txid` is the id of the transaction that wrote the row (`pg_current_xact_id()`,
 * the top-level transaction). `seq` is assigned when a row is inserted but the row becomes visible
 * only when its transaction commits, so "everything after the last seq seen" can miss a row that
 * commits late with a lower seq. Every transaction whose id is below `pg_snapshot_xmin` of a
 * snapshot has ended, so the rows with `txid` below it are final: none can still appear. The
 * subscription matcher reads windows of final rows (see src/subscriptions/feed.ts and
 * docs/adr/0002-subscription-change-feed.md). Rows written before this migration have no txid:
 * no subscription existed then.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE resource_history ADD COLUMN txid xid8;
    ALTER TABLE resource_history ALTER COLUMN txid SET DEFAULT pg_current_xact_id();
    CREATE INDEX resource_history_txid_idx ON resource_history (txid);

    -- The matcher's position: the window [low, high) of transaction ids being read, and the last
    -- seq done within it. One row; whoever holds the matcher's advisory lock moves it.
    CREATE TABLE subscription_feed_cursor (
      name text PRIMARY KEY,
      low xid8 NOT NULL,
      high xid8 NOT NULL,
      after_seq bigint NOT NULL DEFAULT 0,
      updated timestamptz NOT NULL DEFAULT now()
    );
    INSERT INTO subscription_feed_cursor (name, low, high)
      VALUES ('matcher', pg_snapshot_xmin(pg_current_snapshot()), pg_snapshot_xmin(pg_current_snapshot()));

    -- What the server keeps about each Subscription beside the resource: who created it (whose
    -- read access bounds its notifications), its secret (write-only), its event counter and the
    -- progress and lease of its rest-hook delivery. Written in the Subscription's write transaction.
    CREATE TABLE subscription_state (
      id text PRIMARY KEY,
      owner jsonb,
      secret text,
      status text NOT NULL,
      channel text NOT NULL,
      heartbeat_seconds integer,
      end_at timestamptz,
      events_since_start bigint NOT NULL DEFAULT 0,
      delivered_through bigint NOT NULL DEFAULT 0,
      handshake_pending boolean NOT NULL DEFAULT false,
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      last_error text,
      last_sent_at timestamptz NOT NULL DEFAULT now(),
      lease_until timestamptz,
      lease_pid integer,
      lease_backend_start timestamptz,
      created timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX subscription_state_due_idx ON subscription_state (next_attempt_at)
      WHERE channel = 'rest-hook' AND status IN ('requested', 'active');
    CREATE INDEX subscription_state_active_idx ON subscription_state (id) WHERE status IN ('requested', 'active');

    -- The matcher's alarm clock: a statement that writes to the feed notifies on commit (once per
    -- transaction: PostgreSQL folds equal notifications), and only while some subscription may be
    -- active. A notification is only a wake-up; the rows are the record, and the matcher also polls.
    CREATE FUNCTION fhir_change_feed_wake() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      IF EXISTS (SELECT 1 FROM subscription_state WHERE status IN ('requested', 'active')) THEN
        PERFORM pg_notify('fhir_change_feed', '');
      END IF;
      RETURN NULL;
    END
    $fn$;
    CREATE TRIGGER resource_history_wake AFTER INSERT ON resource_history
      FOR EACH STATEMENT EXECUTE FUNCTION fhir_change_feed_wake();

    -- Each subscription's events, numbered from 1 without gaps, derived from the change feed.
    CREATE TABLE subscription_event (
      subscription_id text NOT NULL,
      event_number bigint NOT NULL,
      seq bigint NOT NULL,
      resource_type text NOT NULL,
      resource_id text NOT NULL,
      version_id integer NOT NULL,
      interaction text NOT NULL CHECK (interaction IN ('create', 'update', 'delete')),
      occurred timestamptz NOT NULL,
      created timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (subscription_id, event_number)
    );
    CREATE INDEX subscription_event_created_idx ON subscription_event (created);

    -- Websocket binding tokens ($get-ws-binding-token), kept as SHA-256 hashes.
    CREATE TABLE subscription_ws_token (
      token_hash text PRIMARY KEY,
      subscription_ids text[] NOT NULL,
      expires timestamptz NOT NULL
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TRIGGER resource_history_wake ON resource_history;
    DROP FUNCTION fhir_change_feed_wake();
    DROP TABLE subscription_ws_token, subscription_event, subscription_state, subscription_feed_cursor;
    DROP INDEX resource_history_txid_idx;
    ALTER TABLE resource_history DROP COLUMN txid;
  `);
}
