import type { TypedValue } from '@medplum/core';
import type { CodeableConcept, Coding, ContactPoint, Identifier } from '@medplum/fhirtypes';
import { foldText } from '../fold.js';
import type { TokenRow } from './rows.js';

export type TokenValue = Omit<TokenRow, 'param'>;

const token = (system: string | undefined, code: string | undefined, text?: string): TokenValue => ({
  system: system ?? null,
  code: code ?? null,
  text: text ? foldText(text) : null,
  typeSystem: null,
  typeCode: null,
});

function codingValues(coding: Coding): TokenValue[] {
  return coding.code || coding.system || coding.display ? [token(coding.system, coding.code, coding.display)] : [];
}

/** CodeableConcept: each coding, and its text on a row of its own (for `:text`). */
function conceptValues(concept: CodeableConcept): TokenValue[] {
  const rows = (concept.coding ?? []).flatMap(codingValues);
  if (concept.text) rows.push(token(undefined, undefined, concept.text));
  return rows;
}

/** Identifier: system|value, with its type (for `:of-type`) and type text (for `:text`). */
function identifierValues(identifier: Identifier): TokenValue[] {
  const base = token(identifier.system, identifier.value, identifier.type?.text);
  const types = identifier.type?.coding ?? [];
  if (types.length === 0) return [base];
  return types.map((type) => ({ ...base, typeSystem: type.system ?? null, typeCode: type.code ?? null }));
}

/**
 * The tokens a token parameter indexes (search.html#token), by the FHIR type of the value. A plain
 * `code` takes the system its binding implies, when the parameter knows one.
 */
export function tokenValues(value: TypedValue, implicitSystem?: string): TokenValue[] {
  const v = value.value;
  switch (value.type) {
    case 'Coding':
      return codingValues(v as Coding);
    case 'CodeableConcept':
      return conceptValues(v as CodeableConcept);
    case 'Identifier':
      return identifierValues(v as Identifier);
    case 'ContactPoint': {
      const contact = v as ContactPoint;
      return contact.value ? [token(contact.system, contact.value)] : [];
    }
    case 'boolean':
      return [token(undefined, String(v))];
    case 'code':
      return typeof v === 'string' ? [token(implicitSystem, v)] : [];
    default:
      return typeof v === 'string' || typeof v === 'number' ? [token(undefined, String(v))] : [];
  }
}
