import type { Database } from '../../store/index.js';
import type { LaunchContext } from './launch.js';
import { randomSecret, sha256 } from './secrets.js';

/** A person has this long to log in, choose a patient and consent. */
const INTERACTION_SECONDS = 600;

/** An authorization request that passed every check, waiting for the person at the browser. */
export interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  scope: string[];
  state?: string;
  codeChallenge: string;
  nonce?: string;
  /** The context of an EHR launch (`launch`), already used up. */
  launch?: LaunchContext;
}

export interface Interaction {
  id: string;
  request: AuthorizationRequest;
  userId?: string;
  /** The patient chosen on the patient page. */
  patient?: string;
}

interface InteractionRow {
  request: AuthorizationRequest;
  user_id: string | null;
  patient: string | null;
}

/** The state carried between the pages of /oauth/authorize; the id travels in the page and in a cookie, only its hash is kept. */
export class Interactions {
  constructor(private readonly db: Database) {}

  async create(request: AuthorizationRequest): Promise<string> {
    const id = randomSecret();
    await this.db.query('DELETE FROM auth_interaction WHERE expires < now()');
    await this.db.query('INSERT INTO auth_interaction (id_hash, request, expires) VALUES ($1, $2, now() + make_interval(secs => $3))', [
      sha256(id),
      request,
      INTERACTION_SECONDS,
    ]);
    return id;
  }

  async get(id: string): Promise<Interaction | undefined> {
    const { rows } = await this.db.query<InteractionRow>('SELECT request, user_id, patient FROM auth_interaction WHERE id_hash = $1 AND expires > now()', [
      sha256(id),
    ]);
    const row = rows[0];
    return row && { id, request: row.request, userId: row.user_id ?? undefined, patient: row.patient ?? undefined };
  }

  async setUser(id: string, userId: string): Promise<void> {
    await this.db.query('UPDATE auth_interaction SET user_id = $2 WHERE id_hash = $1', [sha256(id), userId]);
  }

  async setPatient(id: string, patient: string): Promise<void> {
    await this.db.query('UPDATE auth_interaction SET patient = $2 WHERE id_hash = $1', [sha256(id), patient]);
  }

  /** Ends the interaction; answers whether it was still there (so that two approvals cannot both issue a code). */
  async remove(id: string): Promise<boolean> {
    const { rowCount } = await this.db.query('DELETE FROM auth_interaction WHERE id_hash = $1', [sha256(id)]);
    return (rowCount ?? 0) > 0;
  }
}
