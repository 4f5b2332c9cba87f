import type { FastifyInstance } from 'fastify';
import { oauthErrors } from '../auth-errors.js';
import { authenticateClient } from './client-auth.js';
import type { Client } from './clients.js';
import type { OAuthServer } from './context.js';
import { formBody, required, singleValued } from './form.js';

const notYours = () => oauthErrors.invalidGrant('The token was issued to another client');

/** A refresh token takes its whole family with it, and the access tokens issued along (RFC 7009 §2.1). */
async function revokeRefreshToken(server: OAuthServer, client: Client, token: string): Promise<boolean> {
  const owner = await server.refreshTokens.owner(token);
  if (!owner) return false;
  if (owner.clientId !== client.clientId) throw notYours();
  await server.refreshTokens.revokeFamily(owner.family);
  return true;
}

async function revokeAccessToken(server: OAuthServer, client: Client, token: string): Promise<void> {
  const claims = await server.auth.tokens.inspect(token);
  if (!claims) return;
  if (claims.client_id !== client.clientId) throw notYours();
  await server.auth.tokens.revoke(claims);
}

/** POST /oauth/revoke (RFC 7009): by the token's own client; an unknown or dead token is no error. */
export function revokeRoutes(app: FastifyInstance, server: OAuthServer): void {
  app.post('/oauth/revoke', { config: { cors: true } }, async (request, reply) => {
    const params = singleValued(formBody(request.body));
    const client = await authenticateClient(request.headers.authorization, params, server.clientAuth);
    const token = required(params, 'token');
    if (!(await revokeRefreshToken(server, client, token))) await revokeAccessToken(server, client, token);
    return reply.code(200).send();
  });
}
