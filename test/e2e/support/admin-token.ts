/** The bootstrap admin client the e2e servers are started with (CONTRACT.md: ADMIN_CLIENT_ID / ADMIN_CLIENT_SECRET). */
export const E2E_ADMIN = { id: 'e2e-admin', secret: 'e2e-admin-secret-0123456789' } as const;

export const adminEnv = (): Record<string, string> => ({ ADMIN_CLIENT_ID: E2E_ADMIN.id, ADMIN_CLIENT_SECRET: E2E_ADMIN.secret });

/** A `system/*.* admin` access token from the server's token endpoint (client_credentials, client_secret_basic). */
export async function adminToken(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${E2E_ADMIN.id}:${E2E_ADMIN.secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/*.* admin' }),
  });
  const body = (await response.json()) as { access_token?: string };
  if (response.status !== 200 || !body.access_token) throw new Error(`no admin token: ${response.status} ${JSON.stringify(body)}`);
  return body.access_token;
}
