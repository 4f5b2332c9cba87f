import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { launchChromium } from './support/chromium.js';
import {
  adminToken,
  buildOnce,
  fhirFetch,
  jsonBody,
  PROJECT_ROOT,
  startServerProcess,
  stopAllServerProcesses,
  type HttpResult,
  type ServerProcess,
} from './support/server-process.js';
import { authorizeUrl, exchangeCode, pkce, randomState, startAppServer, type AppServer, type TokenResult } from './support/smart-app.js';

/**
 * SMART App Launch end to end: the server process, a real headless Chromium on the server's own
 * login, patient-choice and consent pages, and an app on its own origin: hand-written (standalone
 * launch with PKCE, EHR launch with a confidential client) and SMART's own `fhirclient`.
 */

const ARTIFACTS = path.join(PROJECT_ROOT, 'test/e2e/artifacts');
const PAGE_TIMEOUT_MS = 15_000;
const TEST_TIMEOUT_MS = 90_000;

const PASSWORD = { practitioner: 'Diagnosis-is-4-Lupus', patient: 'Analytical-Engine-1843' };
const STANDALONE_SCOPE = 'openid fhirUser launch/patient patient/*.rs offline_access';
const EHR_SCOPE = 'launch openid fhirUser patient/*.rs';

interface Ids {
  practitioner: string;
  patient1: string;
  patient2: string;
  encounter1: string;
  observations1: string[];
  observations2: string[];
}

interface Registered {
  publicClient: string;
  confidentialClient: { id: string; secret: string };
  fhirClientApp: string;
}

const scopesOf = (scope: string): string[] => scope.split(' ').filter(Boolean).sort();

function sorted(values: string[]): string[] {
  return [...values].sort();
}

describe('SMART App Launch in headless Chromium', () => {
  let database: TestDatabase;
  let server: ServerProcess;
  let app: AppServer;
  let browser: Browser;
  let fhirBase: string;
  const contexts: BrowserContext[] = [];
  const ids = {} as Ids;
  const clients = {} as Registered;

  /** A JSON request to the server outside /fhir (admin endpoints, launch) with a bearer token. */
  async function serverJson(method: string, pathname: string, token: string, body?: unknown): Promise<HttpResult> {
    const response = await fetch(`${server.baseUrl}${pathname}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    return { status: response.status, headers: response.headers, body: await jsonBody(response) };
  }

  async function create(resource: Record<string, unknown>): Promise<string> {
    const created = await fhirFetch(server.baseUrl, 'POST', String(resource.resourceType), resource);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body.id as string;
  }

  async function register(metadata: Record<string, unknown>): Promise<HttpResult> {
    const registered = await serverJson('POST', '/oauth/register', await adminToken(server.baseUrl), metadata);
    expect(registered.status, JSON.stringify(registered.body)).toBe(201);
    return registered;
  }

  /** A fresh browser context (no cookies from another test), with bounded waits and the console kept. */
  async function newPage(): Promise<{ page: Page; console: string[] }> {
    const context = await browser.newContext();
    contexts.push(context);
    context.setDefaultTimeout(PAGE_TIMEOUT_MS);
    context.setDefaultNavigationTimeout(PAGE_TIMEOUT_MS);
    const page = await context.newPage();
    const console: string[] = [];
    page.on('console', (message) => console.push(`${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => console.push(`pageerror: ${error.message}`));
    return { page, console };
  }

  async function screenshot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  }

  /** Every visible form control has an id and a `<label for>` naming it. */
  async function expectLabelledInputs(page: Page): Promise<void> {
    const inputs = page.locator('form input:not([type=hidden]), form select, form textarea');
    const count = await inputs.count();
    expect(count).toBeGreaterThan(0);
    for (let index = 0; index < count; index++) {
      const id = await inputs.nth(index).getAttribute('id');
      expect(id, `input ${index} of ${page.url()} has no id`).toBeTruthy();
      expect(await page.locator(`label[for="${id}"]`).count(), `no <label for="${id}">`).toBe(1);
    }
  }

  async function expectLoginPage(page: Page): Promise<void> {
    await expect.poll(() => page.locator('input[name="username"]').count()).toBe(1);
    expect(await page.locator('input[name="password"]').getAttribute('type')).toBe('password');
  }

  async function signIn(page: Page, username: string, password: string): Promise<void> {
    await page.locator('input[name="username"]').fill(username);
    await page.locator('input[name="password"]').fill(password);
    await page.locator('form:has(input[name="password"]) [type="submit"]').click();
    await page.waitForLoadState('domcontentloaded');
  }

  async function choosePatient(page: Page, patientId: string): Promise<void> {
    await page.locator(`input[name="patient"][value="${patientId}"]`).check();
    await page.locator('form:has(input[name="patient"]) [type="submit"]').click();
    await page.waitForLoadState('domcontentloaded');
  }

  async function expectConsentPage(page: Page): Promise<void> {
    await page.locator('button[name="approve"]').waitFor();
    expect(await page.locator('button[name="deny"]').count()).toBe(1);
  }

  /** Clicks `approve` or `deny` and waits for the browser to land on the app's callback; answers its query. */
  async function decide(page: Page, button: 'approve' | 'deny', returnTo = app.callbackUrl): Promise<URLSearchParams> {
    await page.locator(`button[name="${button}"]`).click();
    await page.waitForURL((url) => url.href.startsWith(`${returnTo}?`));
    return new URL(page.url()).searchParams;
  }

  interface StandaloneLogin {
    username: string;
    password: string;
    scope: string;
    /** The patient to choose (a practitioner asking for launch/patient). */
    patient?: string;
    clientId?: string;
  }

  /** A whole standalone launch in the browser as the public client; answers the token response. */
  async function standaloneToken(login: StandaloneLogin): Promise<TokenResult> {
    const { page } = await newPage();
    const challenge = pkce();
    const state = randomState();
    const clientId = login.clientId ?? clients.publicClient;
    await page.goto(authorizeUrl({ baseUrl: server.baseUrl, clientId, redirectUri: app.callbackUrl, scope: login.scope, state, codeChallenge: challenge.challenge }));
    await expectLoginPage(page);
    await signIn(page, login.username, login.password);
    if (login.patient !== undefined) await choosePatient(page, login.patient);
    await expectConsentPage(page);
    const query = await decide(page, 'approve');
    expect(query.get('state')).toBe(state);
    const code = query.get('code');
    expect(code).toBeTruthy();
    const token = await exchangeCode({ baseUrl: server.baseUrl, code: code as string, redirectUri: app.callbackUrl, verifier: challenge.verifier, clientId });
    expect(token.status, JSON.stringify(token.body)).toBe(200);
    return token;
  }

  async function verifyIdToken(idToken: string, clientId: string) {
    const jwks = (await (await fetch(`${server.baseUrl}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
    const { payload, protectedHeader } = await jwtVerify(idToken, createLocalJWKSet(jwks), { issuer: server.baseUrl, audience: clientId });
    expect(protectedHeader.alg).toBe('RS256');
    return payload;
  }

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const entryIds = (bundle: { entry?: { resource: { id: string } }[] }): string[] => sorted((bundle.entry ?? []).map((entry) => entry.resource.id));

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // The browser first: installing it (a fresh machine) is the slow part and fails loudly.
    browser = await launchChromium();
    await buildOnce();
    database = await createTestDatabase();
    server = await startServerProcess({ databaseUrl: database.url });
    fhirBase = `${server.baseUrl}/fhir`;
    app = await startAppServer();

    ids.practitioner = await create({ resourceType: 'Practitioner', name: [{ family: 'House', given: ['Gregory'], prefix: ['Dr.'] }] });
    ids.patient1 = await create({ resourceType: 'Patient', name: [{ use: 'official', family: 'Lovelace', given: ['Ada'] }], gender: 'female', birthDate: '1985-12-10' });
    ids.patient2 = await create({ resourceType: 'Patient', name: [{ use: 'official', family: 'Turing', given: ['Alan'] }], gender: 'male', birthDate: '1962-06-23' });
    ids.encounter1 = await create({
      resourceType: 'Encounter',
      status: 'in-progress',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB', display: 'ambulatory' },
      subject: { reference: `Patient/${ids.patient1}` },
    });
    const observation = (patient: string, code: string, display: string, value: number, unit: string) => ({
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      code: { coding: [{ system: 'http://loinc.org', code, display }] },
      subject: { reference: `Patient/${patient}` },
      effectiveDateTime: '2024-03-01T09:30:00Z',
      valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
    });
    ids.observations1 = [
      await create(observation(ids.patient1, '8867-4', 'Heart rate', 72, '/min')),
      await create(observation(ids.patient1, '29463-7', 'Body weight', 61, 'kg')),
    ];
    ids.observations2 = [
      await create(observation(ids.patient2, '8867-4', 'Heart rate', 64, '/min')),
      await create(observation(ids.patient2, '29463-7', 'Body weight', 78, 'kg')),
      await create(observation(ids.patient2, '8310-5', 'Body temperature', 36.8, 'Cel')),
    ];

    const admin = await adminToken(server.baseUrl);
    const doctor = await serverJson('POST', '/admin/users', admin, {
      username: 'dr.house',
      password: PASSWORD.practitioner,
      fhirUser: `Practitioner/${ids.practitioner}`,
      role: 'practitioner',
    });
    expect(doctor.status, JSON.stringify(doctor.body)).toBe(201);
    const patient = await serverJson('POST', '/admin/users', admin, {
      username: 'pat.one',
      password: PASSWORD.patient,
      fhirUser: `Patient/${ids.patient1}`,
      role: 'patient',
    });
    expect(patient.status, JSON.stringify(patient.body)).toBe(201);

    clients.publicClient = (
      await register({
        client_name: 'Chart Viewer',
        redirect_uris: [app.callbackUrl],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid fhirUser launch launch/patient offline_access patient/*.rs user/*.rs',
      })
    ).body.client_id;
    const confidential = await register({
      client_name: 'Bedside Companion',
      redirect_uris: [app.callbackUrl],
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code'],
      scope: 'launch openid fhirUser patient/*.rs',
    });
    clients.confidentialClient = { id: confidential.body.client_id, secret: confidential.body.client_secret };
    expect(clients.confidentialClient.secret).toBeTruthy();
    clients.fhirClientApp = (
      await register({
        client_name: 'fhirclient Demo',
        redirect_uris: [app.indexUrl],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        scope: 'openid fhirUser launch/patient patient/*.rs',
      })
    ).body.client_id;
  }, 20 * 60_000);

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await app?.close().catch(() => undefined);
    await stopAllServerProcesses();
    await database?.drop();
  });

  describe('standalone launch with PKCE', () => {
    it(
      'a practitioner signs in, chooses a patient and approves; the token reaches that patient only',
      async () => {
        const { page } = await newPage();
        const challenge = pkce();
        const state = randomState();
        await page.goto(
          authorizeUrl({ baseUrl: server.baseUrl, clientId: clients.publicClient, redirectUri: app.callbackUrl, scope: STANDALONE_SCOPE, state, codeChallenge: challenge.challenge }),
        );

        // 1. Login.
        await expectLoginPage(page);
        expect(await page.locator('[role="alert"]').count()).toBe(0);
        await expectLabelledInputs(page);
        expect(await page.locator('h1').innerText()).toContain('Chart Viewer');
        await screenshot(page, 'login');
        await signIn(page, 'dr.house', PASSWORD.practitioner);

        // 2. Patient choice: both patients offered, by name and birth date.
        await page.locator('input[name="patient"]').first().waitFor();
        expect(sorted(await page.locator('input[name="patient"]').evaluateAll((inputs) => inputs.map((input) => (input as unknown as { value: string }).value)))).toEqual(
          sorted([ids.patient1, ids.patient2]),
        );
        const chooserText = await page.locator('main').innerText();
        expect(chooserText).toContain('Turing');
        expect(chooserText).toContain('1962-06-23');
        await expectLabelledInputs(page);
        await screenshot(page, 'patient-chooser');
        await choosePatient(page, ids.patient2);

        // 3. Consent: what is asked, for whom.
        await expectConsentPage(page);
        const consentText = await page.locator('main').innerText();
        expect(consentText).toContain('Turing');
        expect(consentText).not.toContain('Lovelace');
        expect(consentText).toContain('dr.house');
        await screenshot(page, 'consent');
        const query = await decide(page, 'approve');
        expect(query.get('state')).toBe(state);
        expect(query.get('error')).toBeNull();
        const code = query.get('code') as string;
        expect(code).toBeTruthy();
        expect(await page.locator('h1').innerText()).toBe('Back in the app');

        // The token response.
        const exchange = { baseUrl: server.baseUrl, code, redirectUri: app.callbackUrl, clientId: clients.publicClient, verifier: challenge.verifier };
        const token = await exchangeCode(exchange);
        expect(token.status, JSON.stringify(token.body)).toBe(200);
        expect(token.headers.get('cache-control')).toContain('no-store');
        expect(token.headers.get('pragma')).toBe('no-cache');
        const body = token.body;
        expect(body.token_type).toBe('Bearer');
        expect(body.expires_in).toBeGreaterThan(0);
        expect(scopesOf(body.scope)).toEqual(scopesOf(STANDALONE_SCOPE));
        expect(body.patient).toBe(ids.patient2);
        expect(body.need_patient_banner).toBe(true);
        expect(body.encounter).toBeUndefined();
        expect(typeof body.refresh_token).toBe('string');
        expect(typeof body.access_token).toBe('string');

        // The id_token names the practitioner by an absolute URL that resolves.
        const idToken = await verifyIdToken(body.id_token, clients.publicClient);
        const practitionerUrl = `${fhirBase}/Practitioner/${ids.practitioner}`;
        expect(idToken.fhirUser).toBe(practitionerUrl);
        const resolved = await fetch(practitionerUrl, { headers: bearer(await adminToken(server.baseUrl)) });
        expect(resolved.status).toBe(200);
        expect(((await resolved.json()) as { id: string }).id).toBe(ids.practitioner);

        // The FHIR API with the access token: Patient 2's record, and nothing of Patient 1's.
        const auth = bearer(body.access_token);
        const patient2 = await fhirFetch(server.baseUrl, 'GET', `Patient/${ids.patient2}`, undefined, auth);
        expect(patient2.status).toBe(200);
        expect(patient2.body.name[0].family).toBe('Turing');
        for (const id of ids.observations2) {
          expect((await fhirFetch(server.baseUrl, 'GET', `Observation/${id}`, undefined, auth)).status).toBe(200);
        }
        const patient1 = await fhirFetch(server.baseUrl, 'GET', `Patient/${ids.patient1}`, undefined, auth);
        expect(patient1.status).toBe(404);
        expect(patient1.body.resourceType).toBe('OperationOutcome');
        expect((await fhirFetch(server.baseUrl, 'GET', `Observation/${ids.observations1[0]}`, undefined, auth)).status).toBe(404);
        const search = await fhirFetch(server.baseUrl, 'GET', 'Observation?_count=100', undefined, auth);
        expect(search.status).toBe(200);
        expect(entryIds(search.body)).toEqual(sorted(ids.observations2));
        const ownSearch = await fhirFetch(server.baseUrl, 'GET', `Observation?patient=Patient/${ids.patient2}`, undefined, auth);
        expect(entryIds(ownSearch.body)).toEqual(sorted(ids.observations2));
        const otherSearch = await fhirFetch(server.baseUrl, 'GET', `Observation?patient=Patient/${ids.patient1}`, undefined, auth);
        expect([200, 403]).toContain(otherSearch.status);
        if (otherSearch.status === 200) expect(entryIds(otherSearch.body)).toEqual([]);

        // offline_access: the refresh token gives a new access token in the same context, and rotates.
        const refreshed = await fetch(`${server.baseUrl}/oauth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: body.refresh_token, client_id: clients.publicClient }),
        });
        const refreshBody = (await refreshed.json()) as Record<string, unknown>;
        expect(refreshed.status, JSON.stringify(refreshBody)).toBe(200);
        expect(refreshBody.patient).toBe(ids.patient2);
        expect(refreshBody.refresh_token).not.toBe(body.refresh_token);
        const withRefreshed = await fhirFetch(server.baseUrl, 'GET', `Patient/${ids.patient2}`, undefined, bearer(refreshBody.access_token as string));
        expect(withRefreshed.status).toBe(200);

        // The code is single use: a replay is refused, and takes back what the code gave.
        const replayed = await exchangeCode(exchange);
        expect(replayed.status).toBe(400);
        expect(replayed.body.error).toBe('invalid_grant');
        const revoked = await fhirFetch(server.baseUrl, 'GET', `Patient/${ids.patient2}`, undefined, auth);
        expect(revoked.status).toBe(401);
        expect(revoked.headers.get('www-authenticate')).toMatch(/^Bearer/i);
        const refreshAfterReplay = await fetch(`${server.baseUrl}/oauth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshBody.refresh_token as string, client_id: clients.publicClient }),
        });
        expect(refreshAfterReplay.status).toBe(400);
        expect(((await refreshAfterReplay.json()) as { error: string }).error).toBe('invalid_grant');
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "a patient's account gets its own record without a patient chooser",
      async () => {
        const { page } = await newPage();
        const challenge = pkce();
        const state = randomState();
        await page.goto(
          authorizeUrl({ baseUrl: server.baseUrl, clientId: clients.publicClient, redirectUri: app.callbackUrl, scope: STANDALONE_SCOPE, state, codeChallenge: challenge.challenge }),
        );
        await expectLoginPage(page);
        await signIn(page, 'pat.one', PASSWORD.patient);
        await expectConsentPage(page);
        expect(await page.locator('input[name="patient"]').count()).toBe(0);
        expect(await page.locator('main').innerText()).toContain('Lovelace');
        await screenshot(page, 'consent-patient');
        const query = await decide(page, 'approve');
        expect(query.get('state')).toBe(state);
        const token = await exchangeCode({
          baseUrl: server.baseUrl,
          code: query.get('code') as string,
          redirectUri: app.callbackUrl,
          verifier: challenge.verifier,
          clientId: clients.publicClient,
        });
        expect(token.status, JSON.stringify(token.body)).toBe(200);
        expect(token.body.patient).toBe(ids.patient1);
        const idToken = await verifyIdToken(token.body.id_token, clients.publicClient);
        expect(idToken.fhirUser).toBe(`${fhirBase}/Patient/${ids.patient1}`);

        const auth = bearer(token.body.access_token);
        expect((await fhirFetch(server.baseUrl, 'GET', `Patient/${ids.patient1}`, undefined, auth)).status).toBe(200);
        expect((await fhirFetch(server.baseUrl, 'GET', `Patient/${ids.patient2}`, undefined, auth)).status).toBe(404);
        const search = await fhirFetch(server.baseUrl, 'GET', 'Observation?_count=100', undefined, auth);
        expect(search.status).toBe(200);
        expect(entryIds(search.body)).toEqual(sorted(ids.observations1));
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'a wrong password shows an error on the login page, announced, and no code',
      async () => {
        const { page } = await newPage();
        const challenge = pkce();
        const state = randomState();
        const before = app.requests.length;
        await page.goto(
          authorizeUrl({ baseUrl: server.baseUrl, clientId: clients.publicClient, redirectUri: app.callbackUrl, scope: STANDALONE_SCOPE, state, codeChallenge: challenge.challenge }),
        );
        await expectLoginPage(page);
        await signIn(page, 'dr.house', 'not-the-password');
        const alert = page.locator('[role="alert"]');
        await alert.waitFor();
        expect(await alert.innerText()).toMatch(/not correct/i);
        expect(page.url().startsWith(`${server.baseUrl}/oauth/authorize`)).toBe(true);
        expect(await page.locator('input[name="password"]').getAttribute('aria-invalid')).toBe('true');
        expect(await page.locator('input[name="username"]').inputValue()).toBe('dr.house');
        expect(await page.locator('input[name="password"]').inputValue()).toBe('');
        await expectLabelledInputs(page);
        await screenshot(page, 'login-error');
        expect(await page.locator('button[name="approve"]').count()).toBe(0);
        expect(await page.locator('input[name="patient"]').count()).toBe(0);
        // The browser never went back to the app: no code was handed out.
        expect(app.requests.slice(before).filter((request) => request.startsWith('/callback'))).toEqual([]);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'deny on the consent page returns error=access_denied with the state, and no code',
      async () => {
        const { page } = await newPage();
        const challenge = pkce();
        const state = randomState();
        await page.goto(
          authorizeUrl({ baseUrl: server.baseUrl, clientId: clients.publicClient, redirectUri: app.callbackUrl, scope: STANDALONE_SCOPE, state, codeChallenge: challenge.challenge }),
        );
        await expectLoginPage(page);
        await signIn(page, 'pat.one', PASSWORD.patient);
        await expectConsentPage(page);
        const query = await decide(page, 'deny');
        expect(query.get('error')).toBe('access_denied');
        expect(query.get('state')).toBe(state);
        expect(query.get('code')).toBeNull();
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe('EHR launch', () => {
    it(
      'a launch from /oauth/launch carries patient and encounter into the token response, once',
      async () => {
        // The EHR's side: a practitioner's token (from a standalone sign-in) creates the launch.
        const practitioner = await standaloneToken({ username: 'dr.house', password: PASSWORD.practitioner, scope: 'openid fhirUser user/*.rs' });
        expect(practitioner.body.patient).toBeUndefined();
        const launchBody = { patient: `Patient/${ids.patient1}`, encounter: `Encounter/${ids.encounter1}` };
        const created = await serverJson('POST', '/oauth/launch', practitioner.body.access_token, launchBody);
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        const launch = created.body.launch as string;
        expect(typeof launch).toBe('string');
        // A patient may not launch apps.
        const patientToken = await standaloneToken({ username: 'pat.one', password: PASSWORD.patient, scope: 'openid fhirUser launch/patient patient/*.rs' });
        const refused = await serverJson('POST', '/oauth/launch', patientToken.body.access_token, launchBody);
        expect(refused.status).toBe(403);

        // The app's side, as a confidential client: login and consent, no patient chooser.
        const { page } = await newPage();
        const challenge = pkce();
        const state = randomState();
        const client = clients.confidentialClient;
        const url = authorizeUrl({ baseUrl: server.baseUrl, clientId: client.id, redirectUri: app.callbackUrl, scope: EHR_SCOPE, state, codeChallenge: challenge.challenge, launch });
        await page.goto(url);
        await expectLoginPage(page);
        expect(await page.locator('h1').innerText()).toContain('Bedside Companion');
        await signIn(page, 'dr.house', PASSWORD.practitioner);
        await expectConsentPage(page);
        expect(await page.locator('input[name="patient"]').count()).toBe(0);
        expect(await page.locator('main').innerText()).toContain('Lovelace');
        await screenshot(page, 'consent-ehr-launch');
        const query = await decide(page, 'approve');
        expect(query.get('state')).toBe(state);

        const token = await exchangeCode({
          baseUrl: server.baseUrl,
          code: query.get('code') as string,
          redirectUri: app.callbackUrl,
          verifier: challenge.verifier,
          clientId: client.id,
          clientSecret: client.secret,
        });
        expect(token.status, JSON.stringify(token.body)).toBe(200);
        const body = token.body;
        expect(body.token_type).toBe('Bearer');
        expect(scopesOf(body.scope)).toEqual(scopesOf(EHR_SCOPE));
        expect(body.patient).toBe(ids.patient1);
        expect(body.encounter).toBe(ids.encounter1);
        expect(body.fhirContext).toEqual(expect.arrayContaining([expect.objectContaining({ reference: `Encounter/${ids.encounter1}` })]));
        expect(body.need_patient_banner).toBe(false);
        expect(typeof body.smart_style_url).toBe('string');
        const style = await fetch(body.smart_style_url);
        expect(style.status).toBe(200);
        expect(await style.json()).toEqual(expect.objectContaining({ color_background: expect.any(String) }));
        const idToken = await verifyIdToken(body.id_token, client.id);
        expect(idToken.fhirUser).toBe(`${fhirBase}/Practitioner/${ids.practitioner}`);
        expect(body.refresh_token).toBeUndefined();

        const auth = bearer(body.access_token);
        expect((await fhirFetch(server.baseUrl, 'GET', `Encounter/${ids.encounter1}`, undefined, auth)).status).toBe(200);
        expect((await fhirFetch(server.baseUrl, 'GET', `Patient/${ids.patient1}`, undefined, auth)).status).toBe(200);
        expect((await fhirFetch(server.baseUrl, 'GET', `Patient/${ids.patient2}`, undefined, auth)).status).toBe(404);

        // The launch value was used up: a second authorization with it goes back to the app with an error.
        const again = await fetch(
          authorizeUrl({ baseUrl: server.baseUrl, clientId: client.id, redirectUri: app.callbackUrl, scope: EHR_SCOPE, state: 'again', codeChallenge: pkce().challenge, launch }),
          { redirect: 'manual', signal: AbortSignal.timeout(10_000) },
        );
        expect(again.status).toBe(302);
        const location = new URL(again.headers.get('location') as string);
        expect(`${location.origin}${location.pathname}`).toBe(app.callbackUrl);
        expect(location.searchParams.get('error')).toBe('invalid_request');
        expect(location.searchParams.get('state')).toBe('again');
        expect(location.searchParams.get('code')).toBeNull();
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe('fhirclient (SMART JavaScript client) as the app', () => {
    it(
      'launches standalone from the browser, and reads the chosen patient and its Observations through the FHIR API',
      async () => {
        // The browser app calls the API from its own origin: the preflight needs no token, and answers allow it.
        const preflight = await fetch(`${fhirBase}/Patient/${ids.patient1}`, {
          method: 'OPTIONS',
          headers: { origin: app.origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization, accept' },
        });
        expect(preflight.status).toBe(204);
        expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
        expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization/);
        const unauthenticated = await fetch(`${fhirBase}/Patient/${ids.patient1}`, { headers: { origin: app.origin } });
        expect(unauthenticated.status).toBe(401);
        expect(unauthenticated.headers.get('access-control-allow-origin')).toBe('*');
        expect(unauthenticated.headers.get('access-control-expose-headers')).toMatch(/www-authenticate/);

        app.fhirClient = { clientId: clients.fhirClientApp, iss: fhirBase, scope: 'openid fhirUser launch/patient patient/*.rs' };
        app.otherPatientId = ids.patient2;
        const { page, console } = await newPage();
        await page.goto(app.launchUrl);
        // fhirclient discovers the endpoints (/.well-known/smart-configuration, across origins) and redirects.
        await page.waitForURL((url) => url.href.startsWith(`${server.baseUrl}/oauth/authorize?`)).catch((error: Error) => {
          throw new Error(`fhirclient did not reach the authorization endpoint (${page.url()}): ${error.message}\n${console.join('\n')}`);
        });
        const authorize = new URL(page.url()).searchParams;
        expect(authorize.get('code_challenge_method')).toBe('S256');
        expect(authorize.get('aud')?.replace(/\/$/, '')).toBe(fhirBase);
        await expectLoginPage(page);
        await signIn(page, 'dr.house', PASSWORD.practitioner);
        await choosePatient(page, ids.patient1);
        await expectConsentPage(page);
        await decide(page, 'approve', app.indexUrl);

        const status = page.locator('#status');
        await expect.poll(() => status.innerText(), { timeout: PAGE_TIMEOUT_MS }).not.toBe('loading');
        expect(await status.innerText(), console.join('\n')).toBe('ready');
        await screenshot(page, 'fhirclient-app');
        expect(await page.locator('#patient-name').innerText()).toBe('Ada Lovelace');
        expect(await page.locator('#patient-id').innerText()).toBe(ids.patient1);
        expect(await page.locator('#patient-birth').innerText()).toBe('1985-12-10');
        expect(await page.locator('#observation-count').innerText()).toBe(String(ids.observations1.length));
        expect(await page.locator('#fhir-user').innerText()).toBe(`Practitioner/${ids.practitioner}`);
        expect(await page.locator('#other-patient').innerText()).toBe('refused 404');
      },
      TEST_TIMEOUT_MS,
    );
  });
});
