import { randomUUID } from 'node:crypto';
import type { JWK } from 'jose';
import type { Database } from '../../store/index.js';
import { randomSecret, sha256 } from './secrets.js';

export type AuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
export type GrantType = 'authorization_code' | 'refresh_token' | 'client_credentials';

export const AUTH_METHODS: readonly AuthMethod[] = ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'];
export const GRANT_TYPES: readonly GrantType[] = ['authorization_code', 'refresh_token', 'client_credentials'];

/** The bootstrap client's registration (CONTRACT.md): any system/ scope in either spelling, and `admin`. */
export const ADMIN_CLIENT_SCOPE = 'system/*.* system/*.cruds admin';

export interface Client {
  clientId: string;
  clientName?: string;
  authMethod: AuthMethod;
  /** SHA-256 of the secret, for the client_secret_* methods. */
  secretHash?: string;
  redirectUris: string[];
  grantTypes: GrantType[];
  /** Everything the client may ever be granted, space separated. */
  scope: string;
  jwks?: { keys: JWK[] };
  jwksUri?: string;
  created: Date;
}

export type NewClient = Omit<Client, 'clientId' | 'secretHash' | 'created'>;

interface ClientRow {
  client_id: string;
  client_name: string | null;
  secret_hash: string | null;
  auth_method: AuthMethod;
  redirect_uris: string[];
  grant_types: GrantType[];
  scope: string;
  jwks: { keys: JWK[] } | null;
  jwks_uri: string | null;
  created: Date;
}

const toClient = (row: ClientRow): Client => ({
  clientId: row.client_id,
  clientName: row.client_name ?? undefined,
  authMethod: row.auth_method,
  secretHash: row.secret_hash ?? undefined,
  redirectUris: row.redirect_uris,
  grantTypes: row.grant_types,
  scope: row.scope,
  jwks: row.jwks ?? undefined,
  jwksUri: row.jwks_uri ?? undefined,
  created: row.created,
});

export function usesSecret(method: AuthMethod): boolean {
  return method === 'client_secret_basic' || method === 'client_secret_post';
}

export function isConfidential(client: Client): boolean {
  return client.authMethod !== 'none';
}

/** The registered OAuth clients (apps and backend services). Secrets are kept only as hashes. */
export class Clients {
  constructor(private readonly db: Database) {}

  async get(clientId: string): Promise<Client | undefined> {
    const { rows } = await this.db.query<ClientRow>('SELECT * FROM auth_client WHERE client_id = $1', [clientId]);
    return rows[0] && toClient(rows[0]);
  }

  /** Registers a client; the secret (for the secret methods) is returned once and never stored. */
  async register(input: NewClient): Promise<{ client: Client; secret?: string }> {
    const secret = usesSecret(input.authMethod) ? randomSecret() : undefined;
    const { rows } = await this.db.query<ClientRow>(
      `INSERT INTO auth_client (client_id, client_name, secret_hash, auth_method, redirect_uris, grant_types, scope, jwks, jwks_uri)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
      [
        randomUUID(),
        input.clientName ?? null,
        secret === undefined ? null : sha256(secret),
        input.authMethod,
        input.redirectUris,
        input.grantTypes,
        input.scope,
        input.jwks ?? null,
        input.jwksUri ?? null,
      ],
    );
    return { client: toClient(rows[0]), secret };
  }

  /**
   * Makes the bootstrap client of ADMIN_CLIENT_ID / ADMIN_CLIENT_SECRET exist with exactly that
   * secret and registration; every process does this at start-up, so it is one idempotent upsert.
   */
  async ensureAdminClient(clientId: string, secret: string): Promise<void> {
    await this.db.query(
      `INSERT INTO auth_client (client_id, client_name, secret_hash, auth_method, grant_types, scope)
       VALUES ($1, 'Administration', $2, 'client_secret_basic', '{client_credentials}', $3)
       ON CONFLICT (client_id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash, auth_method = EXCLUDED.auth_method,
         grant_types = EXCLUDED.grant_types, scope = EXCLUDED.scope`,
      [clientId, sha256(secret), ADMIN_CLIENT_SCOPE],
    );
  }
}
