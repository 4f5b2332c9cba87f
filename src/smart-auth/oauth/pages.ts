import { sharedResourceTypes } from '../policy.js';
import type { Permission, ResourceScope } from '../scopes.js';
import { resourceScope } from './granted-scopes.js';
import type { PatientSummary } from './patients.js';

/**
 * The server-rendered pages of /oauth/authorize: login, patient choice, consent, and errors. They
 * work without JavaScript, use no external assets, and every value they show passes through `html`,
 * which escapes it (nothing a client registered or a person typed can become markup).
 */

const SERVER_NAME = 'FHIR Server';

class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type Interpolation = SafeHtml | string | number | undefined | null | false | Interpolation[];

function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (char) => `&#${char.charCodeAt(0)};`);
}

function render(value: Interpolation): string {
  if (value === undefined || value === null || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** A template whose interpolations are escaped unless they are already markup made by `html`. */
function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  return new SafeHtml(strings.reduce((out, text, index) => out + text + (index < values.length ? render(values[index]) : ''), ''));
}

const STYLE = `
*{box-sizing:border-box}
html{font-size:100%}
body{margin:0;min-height:100vh;background:#f4f6f8;color:#1d2939;font:1rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
.topbar{display:flex;align-items:center;justify-content:space-between;gap:1rem;padding:.75rem 1.5rem;background:#0b3d6e;color:#fff;box-shadow:0 1px 3px rgba(16,24,40,.2)}
.brand{display:flex;align-items:center;gap:.6rem;font-weight:650;font-size:1.1rem;letter-spacing:.01em}
.brand svg{flex:none}
.host{font-size:.875rem;color:#c7dcf0}
.page{display:flex;flex-direction:column;align-items:center;padding:3rem 1rem}
.card{width:100%;max-width:30rem;background:#fff;border:1px solid #dde3ea;border-radius:.75rem;box-shadow:0 4px 16px rgba(16,24,40,.08);padding:2rem}
.eyebrow{margin:0 0 .25rem;font-size:.8rem;font-weight:600;text-transform:uppercase;letter-spacing:.06em;color:#0b5cad}
h1{margin:0 0 .75rem;font-size:1.5rem;line-height:1.3}
.lede{margin:0 0 1.25rem;color:#475467}
.field{margin-bottom:1rem}
label{display:block;margin-bottom:.3rem;font-weight:600}
input[type=text],input[type=password],input[type=search]{width:100%;padding:.65rem .75rem;font:inherit;color:inherit;background:#fff;border:1px solid #98a2b3;border-radius:.5rem}
button{font:inherit;font-weight:600;padding:.65rem 1.25rem;border-radius:.5rem;cursor:pointer;border:1px solid transparent}
.primary{background:#0b5cad;color:#fff}
.primary:hover{background:#094a8c}
.secondary{background:#fff;color:#1d2939;border-color:#98a2b3}
.secondary:hover{background:#f2f4f7}
.wide{width:100%}
:focus-visible{outline:3px solid #f79009;outline-offset:2px}
input:focus-visible{border-color:#0b5cad}
.alert{margin:0 0 1.25rem;padding:.75rem 1rem;border:1px solid #fda29b;border-left:4px solid #b42318;border-radius:.5rem;background:#fef3f2;color:#7a271a}
.inline{display:flex;gap:.5rem}
.inline input{flex:1}
fieldset{margin:1.25rem 0;padding:0;border:0}
legend{padding:0;margin-bottom:.5rem;font-weight:600}
.choices,.access{list-style:none;margin:0;padding:0}
.choices li+li{margin-top:.5rem}
.choice{display:flex;align-items:flex-start;gap:.75rem;padding:.75rem;border:1px solid #dde3ea;border-radius:.5rem;font-weight:400;cursor:pointer}
.choice:hover{background:#f9fafb}
.choice input{margin-top:.3rem}
.choice-name{display:block;font-weight:600}
.choice-meta{display:block;font-size:.875rem;color:#475467}
.access{margin-bottom:1.25rem;border:1px solid #dde3ea;border-radius:.5rem}
.access li{padding:.6rem .9rem}
.access li+li{border-top:1px solid #eaecf0}
.context{margin:0 0 1.25rem;padding:.75rem 1rem;background:#eff8ff;border-radius:.5rem}
.actions{display:flex;gap:.75rem;flex-wrap:wrap}
.fine{margin:1.25rem 0 0;font-size:.875rem;color:#475467}
.footnote{margin-top:1.5rem;font-size:.8rem;color:#667085;text-align:center}
@media (max-width:30rem){.card{padding:1.25rem}.page{padding:1.5rem .75rem}}
`;

const LOGO = html`<svg width="28" height="28" viewBox="0 0 28 28" aria-hidden="true" focusable="false"><rect width="28" height="28" rx="6" fill="#fff"/><path d="M11 5h6v6h6v6h-6v6h-6v-6H5v-6h6z" fill="#0b3d6e"/></svg>`;

export interface PageFrame {
  /** The server's public host, shown in the header so a person sees where they are signing in. */
  host: string;
  /** Where the page's forms post: the authorization endpoint. */
  action: string;
}

function page(frame: PageFrame, title: string, content: SafeHtml): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${title} · ${SERVER_NAME}</title>
<style>${new SafeHtml(STYLE)}</style>
</head>
<body>
<header class="topbar"><div class="brand">${LOGO}<span>${SERVER_NAME}</span></div><span class="host">${frame.host}</span></header>
<main class="page">
<section class="card" aria-labelledby="page-title">
${content}
</section>
<p class="footnote">Secure sign-in. An app receives only the access you allow.</p>
</main>
</body>
</html>`.value;
}

const ERROR_ID = 'form-error';

function alert(message: string | undefined): SafeHtml {
  return message ? html`<div class="alert" role="alert" id="${ERROR_ID}">${message}</div>` : html``;
}

/** Ties the fields to the page's error, so that a screen reader reads it with them. */
function describedBy(error: string | undefined): SafeHtml {
  return error ? html` aria-describedby="${ERROR_ID}" aria-invalid="true"` : html``;
}

function hiddenInteraction(interaction: string): SafeHtml {
  return html`<input type="hidden" name="interaction" value="${interaction}">`;
}

export function loginPage(frame: PageFrame, input: { interaction: string; clientName: string; username?: string; error?: string }): string {
  return page(
    frame,
    'Sign in',
    html`<p class="eyebrow">Sign in to continue</p>
<h1 id="page-title">${input.clientName} wants to connect</h1>
<p class="lede">Sign in with your account to decide what <strong>${input.clientName}</strong> may see.</p>
${alert(input.error)}
<form method="post" action="${frame.action}">
${hiddenInteraction(input.interaction)}
<div class="field"><label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus value="${input.username ?? ''}"${describedBy(input.error)}></div>
<div class="field"><label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${describedBy(input.error)}></div>
<button type="submit" class="primary wide">Sign in</button>
</form>`,
  );
}

function patientChoice(patient: PatientSummary, index: number): SafeHtml {
  const born = patient.birthDate ? `Born ${patient.birthDate} · ` : '';
  return html`<li><label class="choice" for="patient-${index}"><input type="radio" id="patient-${index}" name="patient" value="${patient.id}" required>
<span><span class="choice-name">${patient.name}</span><span class="choice-meta">${born}ID ${patient.id}</span></span></label></li>`;
}

export function patientPage(
  frame: PageFrame,
  input: { interaction: string; clientName: string; patients: PatientSummary[]; search?: string; error?: string },
): string {
  const list = input.patients.length
    ? html`<form method="post" action="${frame.action}">
${hiddenInteraction(input.interaction)}
<fieldset><legend>Patients (${input.patients.length})</legend>
<ul class="choices">${input.patients.map(patientChoice)}</ul>
</fieldset>
<button type="submit" class="primary wide">Continue</button>
</form>`
    : html`<p role="status">No patient matches this search.</p>`;
  return page(
    frame,
    'Choose a patient',
    html`<p class="eyebrow">Patient selection</p>
<h1 id="page-title">Choose a patient</h1>
<p class="lede"><strong>${input.clientName}</strong> asks for the records of one patient. Choose whose.</p>
${alert(input.error)}
<form method="post" action="${frame.action}" role="search">
${hiddenInteraction(input.interaction)}
<label for="name">Search by name</label>
<div class="inline"><input id="name" name="name" type="search" value="${input.search ?? ''}" autofocus>
<button type="submit" class="secondary" name="search" value="1">Search</button></div>
</form>
${list}`,
  );
}

const PERMISSION_ORDER: Permission[] = ['c', 'r', 'u', 'd', 's'];
const PERMISSION_WORDS: Record<Permission, string> = { c: 'create', r: 'read', u: 'update', d: 'delete', s: 'search' };
const WHOSE: Record<string, string> = { patient: 'of the selected patient', user: 'that you may see', system: 'on the whole server' };
const CONTEXT_SCOPE_WORDS: Record<string, string> = {
  openid: 'Confirm who you are',
  fhirUser: 'Know your user record (who you are in the health record)',
  profile: 'Know your user record (who you are in the health record)',
  launch: 'Receive the context it was launched in',
  'launch/patient': 'Know which patient is selected',
  'launch/encounter': 'Know which encounter (visit) is selected',
  offline_access: 'Keep access after you sign out, until it is revoked',
  online_access: 'Keep access while you stay signed in',
  admin: 'Administer the server: user accounts and app registrations',
};

/**
 * Whose records a scope reaches: a `patient/` scope on a type every record shares (Practitioner,
 * Organization...) reads all of them (policy.ts, sharedResourceTypes), which the page says.
 */
function whose(scope: ResourceScope): string {
  if (scope.context !== 'patient') return WHOSE[scope.context];
  if (scope.resourceType === '*') return 'of the selected patient, and the shared ones (practitioners, organizations, medications…)';
  return sharedResourceTypes().has(scope.resourceType) ? '(shared by every patient’s record)' : WHOSE.patient;
}

function sentenceList(words: string[]): string {
  return words.length > 1 ? `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}` : words[0];
}

/** A scope in words, for the consent page: "Read and search Observation records of the selected patient (only category=laboratory)". */
export function describeScope(scope: string): string {
  if (CONTEXT_SCOPE_WORDS[scope]) return CONTEXT_SCOPE_WORDS[scope];
  const parsed = resourceScope(scope);
  if (!parsed) return scope;
  const verbs = sentenceList(PERMISSION_ORDER.filter((permission) => parsed.permissions.has(permission)).map((permission) => PERMISSION_WORDS[permission]));
  const what = parsed.resourceType === '*' ? 'all kinds of records' : `${parsed.resourceType} records`;
  const only = parsed.query ? ` (only ${parsed.query.toString().replace(/&/g, ', ')})` : '';
  return `${verbs.charAt(0).toUpperCase()}${verbs.slice(1)} ${what} ${whose(parsed)}${only}`;
}

export function consentPage(
  frame: PageFrame,
  input: { interaction: string; clientName: string; username: string; scopes: string[]; patient?: PatientSummary },
): string {
  const patient = input.patient
    ? html`<p class="context">Patient: <strong>${input.patient.name}</strong>${input.patient.birthDate ? ` (born ${input.patient.birthDate})` : ''}</p>`
    : html``;
  const access = input.scopes.length
    ? html`<ul class="access">${input.scopes.map((scope) => html`<li>${describeScope(scope)}</li>`)}</ul>`
    : html`<p class="context">No access to records: the app asked for nothing your account may grant.</p>`;
  return page(
    frame,
    'Allow access',
    html`<p class="eyebrow">Review access</p>
<h1 id="page-title">Allow ${input.clientName} access?</h1>
<p class="lede">You are signed in as <strong>${input.username}</strong>. <strong>${input.clientName}</strong> is asking to:</p>
${access}
${patient}
<form method="post" action="${frame.action}">
${hiddenInteraction(input.interaction)}
<div class="actions"><button type="submit" class="primary" name="approve" value="approve">Allow access</button>
<button type="submit" class="secondary" name="deny" value="deny">Deny</button></div>
</form>
<p class="fine">If you deny, the app gets nothing and you return to it.</p>`,
  );
}

export function errorPage(frame: PageFrame, input: { title: string; message: string }): string {
  return page(
    frame,
    input.title,
    html`<h1 id="page-title">${input.title}</h1>
${alert(input.message)}
<p class="fine">Return to the application you came from and start again. If this keeps happening, contact its provider.</p>`,
  );
}
