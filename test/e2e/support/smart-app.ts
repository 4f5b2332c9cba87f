import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * The SMART app's side of the end-to-end launch tests: PKCE, the authorization URL, the code
 * exchange, and a tiny web app on 127.0.0.1 that serves the redirect target (`/callback`) and a
 * browser app built on SMART's own JavaScript client, `fhirclient` (`/launch.html`, `/index.html`).
 */

export interface Pkce {
  verifier: string;
  challenge: string;
}

/** RFC 7636: a random verifier and its S256 challenge. */
export function pkce(): Pkce {
  const verifier = randomBytes(48).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export const randomState = (): string => randomBytes(16).toString('base64url');

export interface AuthorizeInput {
  baseUrl: string;
  clientId: string;
  redirectUri: string;
  scope: string;
  state: string;
  codeChallenge: string;
  launch?: string;
  aud?: string;
}

/** The `/oauth/authorize` URL of a SMART launch (response_type=code, PKCE S256, aud = the FHIR base). */
export function authorizeUrl(input: AuthorizeInput): string {
  const url = new URL(`${input.baseUrl}/oauth/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: input.clientId,
    redirect_uri: input.redirectUri,
    scope: input.scope,
    state: input.state,
    aud: input.aud ?? `${input.baseUrl}/fhir`,
    code_challenge: input.codeChallenge,
    code_challenge_method: 'S256',
    ...(input.launch === undefined ? {} : { launch: input.launch }),
  }).toString();
  return url.toString();
}

export interface TokenExchange {
  baseUrl: string;
  code: string;
  redirectUri: string;
  verifier: string;
  clientId: string;
  /** A confidential client's secret: then client_secret_basic, else a public client's client_id in the body. */
  clientSecret?: string;
}

export interface TokenResult {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the token response is read freely
  body: any;
}

/** POST /oauth/token with grant_type=authorization_code and the code_verifier. */
export async function exchangeCode(input: TokenExchange): Promise<TokenResult> {
  const form = new URLSearchParams({ grant_type: 'authorization_code', code: input.code, redirect_uri: input.redirectUri, code_verifier: input.verifier });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (input.clientSecret === undefined) form.set('client_id', input.clientId);
  else headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(input.clientId)}:${encodeURIComponent(input.clientSecret)}`).toString('base64')}`;
  const response = await fetch(`${input.baseUrl}/oauth/token`, { method: 'POST', headers, body: form, signal: AbortSignal.timeout(15_000) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

/** fhirclient's browser bundle (it sets `window.FHIR`). */
function fhirClientBundle(): Buffer {
  const require = createRequire(import.meta.url);
  const root = path.dirname(require.resolve('fhirclient/package.json'));
  return readFileSync(path.join(root, 'build/fhir-client.js'));
}

/** What the fhirclient pages are built with; set once the app is registered. */
export interface FhirClientAppConfig {
  clientId: string;
  /** The FHIR base URL (the `iss` of the launch). */
  iss: string;
  scope: string;
}

const escapeScript = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c');

/** Starts the SMART launch with fhirclient (standalone: the FHIR server is given as `iss`). */
function launchPage(config: FhirClientAppConfig, redirectUri: string): string {
  const options = { clientId: config.clientId, scope: config.scope, redirectUri, iss: config.iss, pkceMode: 'required' };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Launching</title><script src="/fhir-client.js"></script></head>
<body><p id="status">launching</p>
<script>
FHIR.oauth2.authorize(${escapeScript(options)}).catch(function (error) {
  document.getElementById('status').textContent = 'error: ' + (error && error.message);
});
</script></body></html>`;
}

/**
 * The app proper: finishes the launch (`FHIR.oauth2.ready()`), reads the patient in context and
 * its Observations, tries another patient's record, and writes what it found into the page.
 */
function indexPage(otherPatientId: string | undefined): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SMART app</title><script src="/fhir-client.js"></script></head>
<body>
<h1>Patient summary</h1>
<p>Status: <span id="status">loading</span></p>
<p>Patient: <span id="patient-name"></span> (<span id="patient-id"></span>, born <span id="patient-birth"></span>)</p>
<p>Observations: <span id="observation-count"></span></p>
<p>User: <span id="fhir-user"></span></p>
<p>Other patient: <span id="other-patient"></span></p>
<script>
(async function () {
  var statusEl = document.getElementById('status');
  try {
    var client = await FHIR.oauth2.ready();
    var patient = await client.patient.read();
    var name = (patient.name && patient.name[0]) || {};
    document.getElementById('patient-name').textContent = [].concat(name.given || []).concat(name.family || []).join(' ');
    document.getElementById('patient-id').textContent = patient.id;
    document.getElementById('patient-birth').textContent = patient.birthDate || '';
    var bundle = await client.request('Observation?patient=' + encodeURIComponent(client.patient.id) + '&_count=100');
    document.getElementById('observation-count').textContent = String((bundle.entry || []).length);
    document.getElementById('fhir-user').textContent = client.getFhirUser() || '';
    var other = ${escapeScript(otherPatientId ?? null)};
    if (other) {
      try {
        await client.request('Patient/' + other);
        document.getElementById('other-patient').textContent = 'readable';
      } catch (error) {
        document.getElementById('other-patient').textContent = 'refused ' + (error && error.status);
      }
    }
    statusEl.textContent = 'ready';
  } catch (error) {
    statusEl.textContent = 'error: ' + (error && error.message);
  }
})();
</script></body></html>`;
}

const CALLBACK_PAGE = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Callback</title></head><body><h1>Back in the app</h1></body></html>';

export interface AppServer {
  origin: string;
  port: number;
  /** The redirect target of the hand-driven launches. */
  callbackUrl: string;
  launchUrl: string;
  /** The redirect target of the fhirclient app. */
  indexUrl: string;
  /** The fhirclient pages' settings (set after the client is registered). */
  fhirClient?: FhirClientAppConfig;
  /** A patient the fhirclient app tries to read outside its context. */
  otherPatientId?: string;
  /** Every path the browser asked for, in order (with query). */
  requests: string[];
  close(): Promise<void>;
}

/** The app's web server on 127.0.0.1 (a free port). */
export async function startAppServer(): Promise<AppServer> {
  const bundle = fhirClientBundle();
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const app: AppServer = {
    origin,
    port,
    callbackUrl: `${origin}/callback`,
    launchUrl: `${origin}/launch.html`,
    indexUrl: `${origin}/index.html`,
    requests: [],
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  server.on('request', (request: http.IncomingMessage, response: http.ServerResponse) => {
    const url = new URL(request.url ?? '/', origin);
    app.requests.push(`${url.pathname}${url.search}`);
    const send = (status: number, type: string, body: string | Buffer) => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(body);
    };
    if (url.pathname === '/callback') return send(200, 'text/html; charset=utf-8', CALLBACK_PAGE);
    if (url.pathname === '/fhir-client.js') return send(200, 'text/javascript; charset=utf-8', bundle);
    if (url.pathname === '/launch.html' && app.fhirClient) return send(200, 'text/html; charset=utf-8', launchPage(app.fhirClient, app.indexUrl));
    if (url.pathname === '/index.html') return send(200, 'text/html; charset=utf-8', indexPage(app.otherPatientId));
    return send(404, 'text/plain; charset=utf-8', 'not found');
  });
  return app;
}
