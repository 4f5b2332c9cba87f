import { oauthErrors } from '../auth-errors.js';
import { ASSERTION_TYPE, assertionIssuer, verifyClientAssertion, type AssertionContext } from './client-assertion.js';
import { usesSecret, type Client, type Clients } from './clients.js';
import type { OAuthParams } from './form.js';
import { matchesHash } from './secrets.js';

export interface ClientAuthContext extends AssertionContext {
  clients: Clients;
}

/** How a request says which client it comes from, before anything is checked. */
type Presented =
  | { via: 'client_secret_basic' | 'client_secret_post'; clientId: string; secrets: string[] }
  | { via: 'private_key_jwt'; clientId: string; assertion: string }
  | { via: 'none'; clientId: string };

/** RFC 6749 §2.3.1 form-encodes id and secret inside Basic; many clients do not, so both readings are tried. */
function basicReadings(part: string): string[] {
  try {
    const decoded = decodeURIComponent(part.replace(/\+/g, ' '));
    return decoded === part ? [part] : [part, decoded];
  } catch {
    return [part];
  }
}

function basicCredentials(authorization: string): Presented {
  const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw oauthErrors.invalidClient('The Basic credentials are malformed');
  const ids = basicReadings(decoded.slice(0, colon));
  return { via: 'client_secret_basic', clientId: ids[ids.length - 1], secrets: basicReadings(decoded.slice(colon + 1)) };
}

function assertionCredentials(params: OAuthParams): Presented {
  // An unsupported parameter value makes the request malformed (RFC 6749 §5.2: invalid_request, 400), before any client is authenticated.
  if (params.client_assertion_type !== ASSERTION_TYPE) throw oauthErrors.invalidRequest(`client_assertion_type must be ${ASSERTION_TYPE}`);
  const assertion = params.client_assertion as string;
  const clientId = params.client_id ?? assertionIssuer(assertion);
  if (!clientId) throw oauthErrors.invalidClient('The client assertion names no client (iss)');
  return { via: 'private_key_jwt', clientId, assertion };
}

/** What the request presents; more than one method at once is refused (RFC 6749 §2.3). */
function presentedCredentials(authorization: string | undefined, params: OAuthParams): Presented {
  const basic = /^basic /i.test(authorization ?? '');
  const methods = [basic, params.client_secret !== undefined, params.client_assertion !== undefined].filter(Boolean).length;
  if (methods > 1) throw oauthErrors.invalidRequest('The request uses more than one client authentication method');
  if (basic) {
    const presented = basicCredentials(authorization as string);
    if (params.client_id !== undefined && params.client_id !== presented.clientId) throw oauthErrors.invalidClient('client_id does not match the Basic credentials');
    return presented;
  }
  if (params.client_assertion !== undefined) return assertionCredentials(params);
  if (params.client_id === undefined) throw oauthErrors.invalidClient('Client authentication is required');
  if (params.client_secret !== undefined) return { via: 'client_secret_post', clientId: params.client_id, secrets: [params.client_secret] };
  return { via: 'none', clientId: params.client_id };
}

async function checkCredentials(client: Client, presented: Presented, context: ClientAuthContext): Promise<void> {
  if (client.authMethod === 'none') {
    if (presented.via !== 'none') throw oauthErrors.invalidClient('A public client authenticates with its client_id only');
    return;
  }
  if (usesSecret(client.authMethod)) {
    // Both secret methods carry the same secret: the bootstrap client uses either (CONTRACT.md), so every secret client may.
    const secrets = presented.via === 'client_secret_basic' || presented.via === 'client_secret_post' ? presented.secrets : [];
    if (!secrets.some((secret) => matchesHash(secret, client.secretHash ?? ''))) throw oauthErrors.invalidClient('Client authentication failed');
    return;
  }
  if (presented.via !== 'private_key_jwt') throw oauthErrors.invalidClient('This client authenticates with a signed client assertion (private_key_jwt)');
  await verifyClientAssertion(presented.assertion, client, context);
}

/**
 * Identifies and authenticates the client of a token, introspection or revocation request by its
 * registered method: none (public), client_secret_basic / client_secret_post, or private_key_jwt.
 */
export async function authenticateClient(authorization: string | undefined, params: OAuthParams, context: ClientAuthContext): Promise<Client> {
  const presented = presentedCredentials(authorization, params);
  const client = await context.clients.get(presented.clientId);
  if (!client) throw oauthErrors.invalidClient('Unknown client');
  await checkCredentials(client, presented, context);
  return client;
}
