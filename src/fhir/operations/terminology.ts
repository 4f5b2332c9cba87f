import { randomUUID } from 'node:crypto';
import type { CodeSystem, Coding, Parameters, ParametersParameter, ValueSet } from '@medplum/fhirtypes';
import { errors } from '../../errors.js';
import { findConcept, Terminology, type Coded } from '../../terminology/index.js';
import { readableCurrent, requirePermission } from '../access-checks.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../types.js';
import { OperationInput } from './parameters.js';

const terminology = new Terminology();

function db(context: InteractionContext) {
  return context.tx ?? context.store.db;
}

/** A non-negative whole number input, or the default. */
function wholeNumber(input: OperationInput, name: string, fallback: number): number {
  const text = input.value(name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) throw errors.badRequest(`Invalid value "${text}" for parameter "${name}": expected a whole number`);
  return Number(text);
}

/** The canonical URL of the value set asked about: the instance's own, or the `url` input. */
async function valueSetUrl(context: InteractionContext, input: OperationInput, id: string | undefined): Promise<string> {
  if (id) {
    const stored = JSON.parse((await readableCurrent(context, 'ValueSet', id)).json as string) as ValueSet;
    if (!stored.url) throw errors.badRequest(`ValueSet/${id} has no url: it cannot be expanded by reference`);
    return stored.url;
  }
  const url = input.value('url');
  if (!url) throw errors.badRequest('Name the value set: ValueSet/[id]/$operation, or the url parameter');
  return url;
}

/** The value set, held here or in the R4 definitions, with its codes: 404 when not held, 422 when it cannot be expanded. */
async function expandedValueSet(context: InteractionContext, url: string): Promise<{ resource: ValueSet; codes: Coded[] }> {
  requirePermission(context, 'ValueSet', 'r');
  const { resource, codes } = await terminology.valueSet(db(context), url);
  if (!resource) throw errors.unknownValueSet(url);
  if (!codes) throw errors.cannotExpand(url);
  return { resource, codes };
}

/**
 * ValueSet/$expand (valueset-operation-expand.html), at type level with `url` or on a stored
 * ValueSet: the codes of value sets built from whole code systems and concept lists, with
 * `filter` (text in the code or display, any case), `offset` and `count` for paging.
 */
export async function expandOperation(request: FhirRequest, context: InteractionContext, id?: string): Promise<FhirResponse> {
  const input = new OperationInput(request);
  const url = await valueSetUrl(context, input, id);
  const { resource, codes } = await expandedValueSet(context, url);
  const filterText = input.text('filter');
  const filter = filterText?.toLowerCase();
  const matching = filter ? codes.filter((c) => c.code.toLowerCase().includes(filter) || c.display?.toLowerCase().includes(filter)) : codes;
  const offset = wholeNumber(input, 'offset', 0);
  const page = matching.slice(offset, offset + wholeNumber(input, 'count', matching.length));
  const used: ParametersParameter[] = [
    ...(filterText ? [{ name: 'filter', valueString: filterText }] : []),
    { name: 'offset', valueInteger: offset },
    { name: 'count', valueInteger: page.length },
  ];
  const expanded: ValueSet = {
    resourceType: 'ValueSet',
    ...(resource.id ? { id: resource.id } : {}),
    url: resource.url,
    ...(resource.version ? { version: resource.version } : {}),
    ...(resource.name ? { name: resource.name } : {}),
    status: resource.status,
    expansion: {
      identifier: `urn:uuid:${randomUUID()}`,
      timestamp: new Date().toISOString(),
      total: matching.length,
      offset,
      parameter: used,
      contains: page.map((c) => ({ ...(c.system ? { system: c.system } : {}), code: c.code, ...(c.display ? { display: c.display } : {}) })),
    },
  };
  return { status: 200, body: expanded };
}

/** The coding asked about: a `coding` input, else `code` with `system` (and `display`). */
function codingInput(input: OperationInput): Coding {
  const coding = input.parameters('coding')[0]?.valueCoding;
  const asked = coding ?? { system: input.value('system'), code: input.value('code'), display: input.text('display') };
  if (!asked.code) throw errors.badRequest('Give the code: code (with system), or coding');
  return asked;
}

/**
 * ValueSet/$validate-code (valueset-operation-validate-code.html): whether a code is in a value set;
 * `result`, and the code's `display`, or a `message` saying why not. A display that is not the
 * code's is a failure too.
 */
export async function validateCodeOperation(request: FhirRequest, context: InteractionContext, id?: string): Promise<FhirResponse> {
  const input = new OperationInput(request);
  const url = await valueSetUrl(context, input, id);
  const coding = codingInput(input);
  const { codes } = await expandedValueSet(context, url);
  const found = codes.find((c) => c.code === coding.code && (!coding.system || c.system === coding.system));
  const out: ParametersParameter[] = [];
  if (!found) {
    out.push({ name: 'result', valueBoolean: false }, { name: 'message', valueString: `${coding.system ? `${coding.system}|` : ''}${coding.code} is not in ValueSet ${url}` });
  } else if (coding.display && found.display && coding.display !== found.display) {
    out.push({ name: 'result', valueBoolean: false }, { name: 'message', valueString: `The display of ${coding.code} is "${found.display}", not "${coding.display}"` });
  } else {
    out.push({ name: 'result', valueBoolean: true });
  }
  if (found?.display) out.push({ name: 'display', valueString: found.display });
  return { status: 200, body: { resourceType: 'Parameters', parameter: out } satisfies Parameters };
}

/**
 * CodeSystem/$lookup (codesystem-operation-lookup.html): a code's display and designations in a
 * code system held here or in the R4 definitions; 404 when the system or the code is not known.
 */
export async function lookupOperation(request: FhirRequest, context: InteractionContext): Promise<FhirResponse> {
  requirePermission(context, 'CodeSystem', 'r');
  const coding = codingInput(new OperationInput(request));
  if (!coding.system) throw errors.badRequest('Give the code system: system (with code), or coding');
  const codeSystem: CodeSystem | undefined = await terminology.codeSystem(db(context), coding.system);
  if (!codeSystem) throw errors.unknownCodeSystem(coding.system);
  const concept = findConcept(codeSystem, coding.code as string);
  if (!concept) throw errors.unknownCode(coding.system, coding.code as string);
  const out: ParametersParameter[] = [{ name: 'name', valueString: codeSystem.name ?? codeSystem.title ?? coding.system }];
  if (codeSystem.version) out.push({ name: 'version', valueString: codeSystem.version });
  if (concept.display) out.push({ name: 'display', valueString: concept.display });
  for (const designation of concept.designation ?? []) {
    out.push({
      name: 'designation',
      part: [
        ...(designation.language ? [{ name: 'language', valueCode: designation.language }] : []),
        ...(designation.use ? [{ name: 'use', valueCoding: designation.use }] : []),
        { name: 'value', valueString: designation.value },
      ],
    });
  }
  return { status: 200, body: { resourceType: 'Parameters', parameter: out } satisfies Parameters };
}
