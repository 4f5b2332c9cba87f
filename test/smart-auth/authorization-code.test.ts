import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer } from '../support/test-server.js';
import {
  adminToken,
  authorizeAs,
  authorizeUrl,
  createUser,
  exchangeCode,
  PASSWORD,
  pkce,
  postForm,
  putPatient,
  redirectParams,
  REDIRECT_URI,
  registerPublicApp,
  send,
  sessionOf,
  startAuthServer,
  submitPage,
  type RegisteredClient,
} from './oauth-support.js';

/** The authorization code flow through the real pages, for each kind of user and launch (app-launch.html). */
describe('authorization code flow', () => {
  let server: TestServer;
  let client: RegisteredClient;

  beforeAll(async () => {
    server = await startAuthServer();
    client = await registerPublicApp(server.app);
    await putPatient(server.app, 'p1', 'Smith', 'Ann', '1980-01-01');
    await putPatient(server.app, 'p2', 'Jones', 'Bob', '1975-05-05');
    await createUser(server, 'doc', 'practitioner', 'Practitioner/doc1');
    await createUser(server, 'bob', 'patient', 'Patient/p2');
    await createUser(server, 'retired', 'practitioner', 'Practitioner/old', false);
  });

  afterAll(async () => {
    await server.close();
  });

  const codes = async () => Number((await server.db.query('SELECT count(*) FROM auth_code')).rows[0].count);

  async function loginPage(scope = 'openid fhirUser launch/patient patient/*.rs') {
    const { verifier, challenge } = pkce();
    const response = await send(server.app, 'GET', authorizeUrl({ clientId: client.client_id, scope, challenge }));
    return { response, session: sessionOf(response), verifier };
  }

  describe('the login page', () => {
    it('refuses a wrong password on the page, announced, with no code', async () => {
      const before = await codes();
      const { session } = await loginPage();
      const response = await submitPage(server.app, session, { username: 'doc', password: 'wrong' });
      expect(response.status).toBe(200);
      expect(response.headers.location).toBeUndefined();
      expect(response.text).toMatch(/<div class="alert" role="alert" id="form-error">The username or password is not correct/);
      expect(response.text).toMatch(/<input id="username"[^>]*aria-describedby="form-error" aria-invalid="true">/);
      expect(response.text).toContain('name="password"');
      expect(response.text).toContain('value="doc"');
      expect(await codes()).toBe(before);
      const { rows } = await server.db.query('SELECT user_id FROM auth_interaction WHERE user_id IS NOT NULL');
      expect(rows).toHaveLength(0);
    });

    it('refuses an inactive account and an unknown user with the same message', async () => {
      const { session } = await loginPage();
      const inactive = await submitPage(server.app, session, { username: 'retired', password: PASSWORD });
      const unknown = await submitPage(server.app, session, { username: 'nobody', password: PASSWORD });
      for (const response of [inactive, unknown]) {
        expect(response.status).toBe(200);
        expect(response.text).toMatch(/role="alert" id="form-error">The username or password is not correct, or the account is not active/);
      }
    });

    it('is an accessible form: labels bound to inputs, autofocus on the first, no script, not cacheable or frameable', async () => {
      const { response } = await loginPage();
      const html = response.text;
      expect(html).toMatch(/<html lang="en">/);
      expect(html).toMatch(/<label for="username">/);
      expect(html).toMatch(/<input id="username" name="username"[^>]*autofocus/);
      expect(html).toMatch(/<label for="password">/);
      expect(html).toMatch(/<input id="password" name="password" type="password"/);
      expect(html).toMatch(/<button type="submit"/);
      expect(html).toMatch(/:focus-visible\{outline/);
      expect(html).not.toMatch(/<script/i);
      expect(html).not.toMatch(/(src|href)="https?:/);
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.headers['x-frame-options']).toBe('DENY');
      expect(String(response.headers['content-security-policy'])).toMatch(/frame-ancestors 'none'/);
    });

    it('does not answer HEAD, which would start an interaction', async () => {
      const { challenge } = pkce();
      const response = await server.app.inject({ method: 'HEAD', url: authorizeUrl({ clientId: client.client_id, scope: 'openid', challenge }) });
      expect(response.statusCode).toBe(404);
    });

    it('is also reached by POST (authorize-post)', async () => {
      const { challenge } = pkce();
      const query = new URL(`http://x${authorizeUrl({ clientId: client.client_id, scope: 'openid', challenge })}`).searchParams;
      const response = await postForm(server.app, '/oauth/authorize', Object.fromEntries(query));
      expect(response.status).toBe(200);
      expect(response.text).toContain('name="username"');
    });
  });

  describe('a practitioner in a standalone launch', () => {
    it('chooses the patient on a page that lists and searches patients by name', async () => {
      const { session } = await loginPage();
      const chooser = await submitPage(server.app, session, { username: 'doc', password: PASSWORD });
      expect(chooser.status).toBe(200);
      expect(chooser.text).toMatch(/<input type="radio" id="patient-\d+" name="patient" value="p1"/);
      expect(chooser.text).toContain('Smith, Ann');
      expect(chooser.text).toContain('1980-01-01');
      expect(chooser.text).toContain('Jones, Bob');
      expect(chooser.text).toMatch(/<label for="name">/);

      const searched = await submitPage(server.app, session, { name: 'smi', search: '1' });
      expect(searched.text).toContain('Smith, Ann');
      expect(searched.text).not.toContain('Jones, Bob');
      expect(searched.text).toContain('value="smi"');

      const nothing = await submitPage(server.app, session, { name: '%', search: '1' });
      expect(nothing.text).toContain('No patient matches');

      const unknown = await submitPage(server.app, session, { patient: 'p404' });
      expect(unknown.text).toMatch(/role="alert" id="form-error">Choose a patient from the list/);
    });

    it('gets the chosen patient in the token response, with a patient banner', async () => {
      const { verifier, challenge } = pkce();
      const { code, state } = await authorizeAs(
        server.app,
        { clientId: client.client_id, scope: 'openid fhirUser launch/patient patient/*.rs user/Practitioner.rs', challenge, state: 'xyz' },
        'doc',
        'p1',
      );
      expect(state).toBe('xyz');
      const response = await exchangeCode(server.app, client.client_id, code, verifier);
      expect(response.status).toBe(200);
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.headers.pragma).toBe('no-cache');
      expect(response.body).toMatchObject({
        token_type: 'Bearer',
        expires_in: 3600,
        scope: 'openid fhirUser launch/patient patient/*.rs user/Practitioner.rs',
        patient: 'p1',
        need_patient_banner: true,
        smart_style_url: 'http://fhir.test/oauth/smart-style.json',
      });
      expect(response.body.encounter).toBeUndefined();
      expect(response.body.refresh_token).toBeUndefined();
      expect(decodeJwt(response.body.access_token)).toMatchObject({ role: 'practitioner', fhirUser: 'Practitioner/doc1', patient: 'p1', client_id: client.client_id });
    });

    it('is granted no patient/ scopes without a patient in context', async () => {
      const { verifier, challenge } = pkce();
      const { code } = await authorizeAs(server.app, { clientId: client.client_id, scope: 'patient/*.rs user/*.rs', challenge }, 'doc');
      const response = await exchangeCode(server.app, client.client_id, code, verifier);
      expect(response.body.scope).toBe('user/*.rs');
      expect(response.body.patient).toBeUndefined();
    });

    it('lists the requested access in words on the consent page', async () => {
      const { session } = await loginPage('openid fhirUser launch/patient patient/Observation.rs?category=laboratory offline_access');
      await submitPage(server.app, session, { username: 'doc', password: PASSWORD });
      const consent = await submitPage(server.app, session, { patient: 'p1' });
      expect(consent.text).toContain("Read and search Observation records of the selected patient (only category=laboratory)");
      expect(consent.text).toContain('Keep access after you sign out');
      expect(consent.text).toContain('Smith, Ann');
      expect(consent.text).toMatch(/<button type="submit" class="primary" name="approve"/);
      expect(consent.text).toMatch(/<button type="submit" class="secondary" name="deny"/);
    });
  });

  describe('a patient', () => {
    it('gets their own record in context without a chooser, user/ requests narrowed to patient/', async () => {
      const { verifier, challenge } = pkce();
      const { code } = await authorizeAs(server.app, { clientId: client.client_id, scope: 'openid launch/patient patient/Observation.rs user/Condition.rs', challenge }, 'bob');
      const response = await exchangeCode(server.app, client.client_id, code, verifier);
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ patient: 'p2', need_patient_banner: true, scope: 'openid launch/patient patient/Observation.rs patient/Condition.rs' });
      expect(decodeJwt(response.body.access_token)).toMatchObject({ role: 'patient', fhirUser: 'Patient/p2', patient: 'p2' });
    });

    it('never gets another patient from an EHR launch', async () => {
      const launch = await send(server.app, 'POST', '/oauth/launch', JSON.stringify({ patient: 'Patient/p1', encounter: 'Encounter/e1' }), {
        'content-type': 'application/json',
        authorization: `Bearer ${await adminToken(server.app)}`,
      });
      const { verifier, challenge } = pkce();
      const { code } = await authorizeAs(server.app, { clientId: client.client_id, scope: 'launch patient/*.rs', challenge, launch: launch.body.launch }, 'bob');
      const response = await exchangeCode(server.app, client.client_id, code, verifier);
      expect(response.body.patient).toBe('p2');
      expect(response.body.encounter).toBeUndefined();
    });
  });

  describe('an EHR launch', () => {
    it('carries the EHR’s patient and encounter into the token response, without a chooser or banner', async () => {
      const created = await send(server.app, 'POST', '/oauth/launch', JSON.stringify({ patient: 'Patient/p1', encounter: 'Encounter/e1' }), {
        'content-type': 'application/json',
        authorization: `Bearer ${await adminToken(server.app)}`,
      });
      expect(created.status).toBe(201);
      const { verifier, challenge } = pkce();
      const request = { clientId: client.client_id, scope: 'launch openid fhirUser patient/*.rs user/*.rs', challenge, launch: created.body.launch };
      const { code } = await authorizeAs(server.app, request, 'doc');
      const response = await exchangeCode(server.app, client.client_id, code, verifier);
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({
        patient: 'p1',
        encounter: 'e1',
        fhirContext: [{ reference: 'Encounter/e1' }],
        need_patient_banner: false,
        scope: 'launch openid fhirUser patient/*.rs user/*.rs',
      });
      expect(decodeJwt(response.body.access_token)).toMatchObject({ patient: 'p1', encounter: 'e1' });

      // The launch value was single use.
      const again = redirectParams(await send(server.app, 'GET', authorizeUrl(request)));
      expect(again.get('error')).toBe('invalid_request');
    });

    it('refuses an expired launch value', async () => {
      const created = await send(server.app, 'POST', '/oauth/launch', JSON.stringify({ patient: 'Patient/p1' }), {
        'content-type': 'application/json',
        authorization: `Bearer ${await adminToken(server.app)}`,
      });
      await server.db.query(`UPDATE auth_launch SET expires = now() - interval '1 second'`);
      const { challenge } = pkce();
      const params = redirectParams(await send(server.app, 'GET', authorizeUrl({ clientId: client.client_id, scope: 'launch', challenge, launch: created.body.launch })));
      expect(params.get('error')).toBe('invalid_request');
    });
  });

  describe('the consent decision', () => {
    it('denying sends access_denied with the state, and no code is created', async () => {
      const before = await codes();
      const { session } = await loginPage('openid');
      await submitPage(server.app, session, { username: 'doc', password: PASSWORD });
      const params = redirectParams(await submitPage(server.app, session, { deny: 'deny' }));
      expect(params.get('error')).toBe('access_denied');
      expect(params.get('state')).toBe('state-123');
      expect(params.get('code')).toBeNull();
      expect(await codes()).toBe(before);
    });

    it('answers a second approval of the same page with an error page, not a second code', async () => {
      const { session } = await loginPage('openid');
      await submitPage(server.app, session, { username: 'doc', password: PASSWORD });
      const first = await submitPage(server.app, session, { approve: 'approve' });
      expect(first.status).toBe(302);
      expect(String(first.headers['set-cookie'])).toMatch(/Max-Age=0/);
      const second = await submitPage(server.app, session, { approve: 'approve' });
      expect(second.status).toBe(400);
      expect(second.headers.location).toBeUndefined();
    });

    it('returns to the exact redirect_uri, keeping its own query', async () => {
      const withQuery = await registerPublicApp(server.app, { redirect_uris: [`${REDIRECT_URI}?tenant=a`] });
      const { challenge } = pkce();
      const login = await send(server.app, 'GET', authorizeUrl({ clientId: withQuery.client_id, scope: 'openid', challenge, redirectUri: `${REDIRECT_URI}?tenant=a` }));
      const session = sessionOf(login);
      await submitPage(server.app, session, { username: 'doc', password: PASSWORD });
      const response = await submitPage(server.app, session, { approve: 'approve' });
      const location = new URL(String(response.headers.location));
      expect(location.searchParams.get('tenant')).toBe('a');
      expect(location.searchParams.get('code')).toBeTruthy();
    });
  });
});
