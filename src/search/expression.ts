import { isResourceType } from '../definitions/index.js';

/** Splits a FHIRPath union at its top level: not inside parentheses, brackets or string literals. */
export function unionBranches(expression: string): string[] {
  const branches: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < expression.length; i++) {
    const char = expression[i];
    if (char === "'" && expression[i - 1] !== '\\') quoted = !quoted;
    else if (!quoted && (char === '(' || char === '[')) depth++;
    else if (!quoted && (char === ')' || char === ']')) depth--;
    else if (!quoted && depth === 0 && char === '|') {
      branches.push(expression.slice(start, i).trim());
      start = i + 1;
    }
  }
  branches.push(expression.slice(start).trim());
  return branches.filter(Boolean);
}

/** The type a branch starts with (`Observation.code`, `(Observation.value as Quantity)`), if it names one. */
function leadingType(branch: string): string | undefined {
  const match = /^\(*\s*([A-Z][A-Za-z]*)(?=$|[.\s)])/.exec(branch);
  return match?.[1];
}

/**
 * The part of a SearchParameter's expression that applies to one type: the branches that start with
 * that type (or with none), with the abstract `Resource.` / `DomainResource.` read as the type.
 * A parameter shared by many types (`clinical-patient`) keeps only this type's branch; a bare
 * `Observation` branch (the combo parameters) is kept too. Undefined when nothing applies.
 */
export function expressionForType(expression: string, type: string): string | undefined {
  const branches = unionBranches(expression)
    .map((branch) => branch.replace(/^(\(*\s*)(?:Resource|DomainResource)(?=[.\s)]|$)/, `$1${type}`))
    .filter((branch) => {
      const leading = leadingType(branch);
      return leading === undefined || leading === type || !isResourceType(leading);
    });
  return branches.length ? branches.join(' | ') : undefined;
}

/** FHIRPath's system types as FHIR names them (`DateTime` is a FHIR `dateTime`). */
const SYSTEM_TYPES: Record<string, string> = {
  Boolean: 'boolean', String: 'string', Integer: 'integer', Decimal: 'decimal', Date: 'date', DateTime: 'dateTime', Time: 'time',
};

/**
 * The `as(type)` function keeps only the values of that type (fhirpath.html#functions), but
 * @medplum/core returns its input unchanged: R4's `Condition.onset.as(string)` would index an
 * onsetDateTime as text, and `code-value-concept`'s `value.as(CodeableConcept)` a valueString as a
 * code. Written as `ofType(type)`, which filters, with a system type under its FHIR name.
 */
export function withTypeFilters(expression: string): string {
  return expression.replace(/\.as\(\s*(?:(System|FHIR)\.)?([A-Za-z]+)\s*\)/g, (_all, namespace: string | undefined, name: string) => {
    const fhirName = namespace === 'FHIR' ? name : (SYSTEM_TYPES[name] ?? name);
    return `.ofType(${fhirName})`;
  });
}
