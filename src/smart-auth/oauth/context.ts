import type { SmartAuth } from '../index.js';
import type { ClientAuthContext } from './client-auth.js';
import type { Clients } from './clients.js';
import type { AuthorizationCodes } from './codes.js';
import type { Endpoints } from './discovery.js';
import type { ScopeQueryCheck } from './granted-scopes.js';
import type { Interactions } from './interactions.js';
import type { Launches } from './launch.js';
import type { RefreshTokens } from './refresh-tokens.js';

/** Everything the OAuth endpoints share, built once by smartAuthHttp. */
export interface OAuthServer {
  auth: SmartAuth;
  /** The issuer of tokens and id_tokens: BASE_URL. */
  issuer: string;
  /** The FHIR base URL: the `aud` apps must ask for, and the base of absolute `fhirUser` URLs. */
  fhirBaseUrl: string;
  endpoints: Endpoints;
  clients: Clients;
  clientAuth: ClientAuthContext;
  codes: AuthorizationCodes;
  refreshTokens: RefreshTokens;
  launches: Launches;
  interactions: Interactions;
  allowPrivateCallbacks: boolean;
  /** Cookies are marked Secure when the server is reached over https. */
  secureCookies: boolean;
  /** Whether a v2 scope's query (`?category=laboratory`) is a search the server can run. */
  checkScopeQuery: ScopeQueryCheck;
}
