import type { Database } from '../store/index.js';
import type { AuditEvent } from '@medplum/fhirtypes';
import { AccessTokens } from './access-token.js';
import type { AuditLog } from './audit/index.js';
import { SigningKeys } from './keys.js';
import { LoginThrottle } from './login-throttle.js';
import { Users } from './users.js';

export { ACCESS_TOKEN_SECONDS, type AccessClaims, type NewAccessClaims } from './access-token.js';
export { authErrors, OAuthError, oauthErrors } from './auth-errors.js';
export {
  ANONYMOUS,
  AUDIT_TYPE,
  compilePolicy,
  grantingScopes,
  grantsUnconfined,
  isUnconfined,
  isUnconfinedOn,
  scopeNames,
  SHARED_READ_PERMISSIONS,
  sharedResourceTypes,
  type AccessPolicy,
} from './policy.js';
export { writeAccessHook, type Visibility } from './write-access.js';
export { loadPolicy, storePolicy, type StoredPolicy } from './stored-policy.js';
export { parseResourceScope, scopeCovers, splitScopes, type Permission, type ResourceScope } from './scopes.js';
export { fhirUserFitsRole, UserAlreadyExists, type Role, type User } from './users.js';

export interface SmartAuthOptions {
  /** The public origin (BASE_URL): the issuer of tokens. */
  issuer: string;
  /** The FHIR base URL: the audience of access tokens and the `aud` a SMART app must ask for. */
  fhirBaseUrl: string;
}

/**
 * Who is asking: the authorization server's shared state (signing keys, access tokens and their
 * revocation, user accounts), started once per process by the composition root.
 */
export class SmartAuth {
  readonly keys: SigningKeys;
  readonly tokens: AccessTokens;
  readonly users: Users;
  readonly throttle: LoginThrottle;
  /** Where authentication events are recorded; set by the composition root once the audit log exists. */
  audit?: AuditLog;

  constructor(
    readonly db: Database,
    readonly options: SmartAuthOptions,
  ) {
    this.keys = new SigningKeys(db);
    this.tokens = new AccessTokens(this.keys, db, options.issuer, options.fhirBaseUrl);
    this.users = new Users(db);
    this.throttle = new LoginThrottle(db);
  }

  /** Records an authentication event (login, failed login, token issue, refresh, revoke). */
  recordAuthentication(event: AuditEvent): void {
    this.audit?.record(event);
  }

  async start(): Promise<void> {
    await this.keys.start();
    await this.tokens.start();
  }

  async stop(): Promise<void> {
    await this.tokens.stop();
  }
}
