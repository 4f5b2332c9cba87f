import { randomUUID } from 'node:crypto';
import type { Database, Queryable } from '../store/index.js';
import { isPgError, PG_ERRORS } from '../store/index.js';
import { hashPassword, verifyPassword } from './passwords.js';

export type Role = 'patient' | 'practitioner' | 'admin';

export interface User {
  id: string;
  username: string;
  fhirUser: string;
  role: Role;
  active: boolean;
}

interface UserRow {
  id: string;
  username: string;
  fhir_user: string;
  role: Role;
  active: boolean;
  password_hash: string;
}

const toUser = (row: UserRow): User => ({ id: row.id, username: row.username, fhirUser: row.fhir_user, role: row.role, active: row.active });

/** Which fhirUser fits a role (CONTRACT.md): a patient is a Patient; a practitioner a Practitioner or PractitionerRole. */
export function fhirUserFitsRole(fhirUser: string, role: Role): boolean {
  const match = /^(Patient|Practitioner|PractitionerRole|RelatedPerson|Person)\/[A-Za-z0-9\-.]{1,64}$/.exec(fhirUser);
  if (!match) return false;
  if (role === 'patient') return match[1] === 'Patient';
  if (role === 'practitioner') return match[1] === 'Practitioner' || match[1] === 'PractitionerRole';
  return true;
}

export class UserAlreadyExists extends Error {}

/** User accounts: the people who log in at /oauth/authorize. Passwords are kept as scrypt hashes only. */
export class Users {
  constructor(private readonly db: Database) {}

  async create(input: { username: string; password: string; fhirUser: string; role: Role }): Promise<User> {
    const passwordHash = await hashPassword(input.password);
    try {
      const { rows } = await this.db.query<UserRow>(
        `INSERT INTO auth_user (id, username, password_hash, fhir_user, role) VALUES ($1, $2, $3, $4, $5) RETURNING *`,
        [randomUUID(), input.username, passwordHash, input.fhirUser, input.role],
      );
      return toUser(rows[0]);
    } catch (error) {
      if (isPgError(error, PG_ERRORS.uniqueViolation)) throw new UserAlreadyExists(input.username);
      throw error;
    }
  }

  async get(id: string, db: Queryable = this.db): Promise<User | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const { rows } = await db.query<UserRow>('SELECT * FROM auth_user WHERE id = $1', [id]);
    return rows[0] && toUser(rows[0]);
  }

  async byUsername(username: string): Promise<User | undefined> {
    const { rows } = await this.db.query<UserRow>('SELECT * FROM auth_user WHERE username = $1', [username]);
    return rows[0] && toUser(rows[0]);
  }

  /**
   * A new password, a new role or deactivation also revokes the account's refresh tokens, in the
   * same statement: sessions granted under the old terms must not outlive them.
   */
  async update(id: string, changes: { password?: string; role?: Role; active?: boolean }): Promise<User | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const passwordHash = changes.password === undefined ? null : await hashPassword(changes.password);
    const endsSessions = changes.password !== undefined || changes.role !== undefined || changes.active === false;
    const { rows } = await this.db.query<UserRow>(
      `WITH updated AS (
         UPDATE auth_user SET password_hash = coalesce($2, password_hash), role = coalesce($3, role), active = coalesce($4, active), updated = now()
          WHERE id = $1 RETURNING *),
       revoked AS (
         UPDATE auth_refresh_token SET status = 'revoked'
          WHERE $5 AND status = 'active' AND user_id = (SELECT id FROM updated))
       SELECT * FROM updated`,
      [id, passwordHash, changes.role ?? null, changes.active ?? null, endsSessions],
    );
    return rows[0] && toUser(rows[0]);
  }

  async remove(id: string): Promise<boolean> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return false;
    const { rowCount } = await this.db.query('DELETE FROM auth_user WHERE id = $1', [id]);
    return (rowCount ?? 0) > 0;
  }

  /**
   * The user with this username and password, if the account is active. The password is checked
   * even when the account does not exist, so that timing does not tell which usernames exist.
   */
  async authenticate(username: string, password: string): Promise<User | undefined> {
    const { rows } = await this.db.query<UserRow>('SELECT * FROM auth_user WHERE username = $1', [username]);
    const row = rows[0];
    const valid = await verifyPassword(password, row?.password_hash ?? DUMMY_HASH);
    return row && valid && row.active ? toUser(row) : undefined;
  }
}

/** A hash of nothing in particular, checked when the username is unknown. */
const DUMMY_HASH = 'scrypt$32768$8$1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
