import {
  AndAtom,
  AsAtom,
  booleanToTypedValue,
  DotAtom,
  EmptySetAtom,
  EqualsAtom,
  fhirPathArrayEquals,
  fhirPathArrayNotEquals,
  FhirPathAtom,
  fhirPathIs,
  FunctionAtom,
  IndexerAtom,
  InfixOperatorAtom,
  IsAtom,
  LiteralAtom,
  NotEqualsAtom,
  OrAtom,
  removeDuplicates,
  singleton,
  SymbolAtom,
  toJsBoolean,
  UnionAtom,
  type Atom,
  type TypedValue,
} from '@medplum/core';
import { propertyStep } from './property.js';

/**
 * SearchParameter expressions compiled into plain functions over the resource's JSON. Each
 * construct does exactly what @medplum/core's evaluator does with it (the same navigation, the
 * same type names, the same quirks), without the interpretive overhead: most R4 expressions are
 * paths (`Observation.code`), type filters (`(Observation.value as Quantity)`), unions of these,
 * and `where()` on `resolve() is Patient` or `type = '...'`. An expression using anything else is
 * not compiled, and is evaluated by core.
 */

/** What an expression is evaluated against besides its input. */
export interface Scope {
  /** `${baseUrl}/`: references on it read as relative ones. */
  ownBase: string;
  /** `%resource`, for composite components. */
  resource?: TypedValue;
}

type Step = (input: TypedValue[], scope: Scope) => TypedValue[];

/** A compiled expression: its values on one input, as `evalFhirPathTyped` returns them. */
export type CompiledExpression = (input: TypedValue, scope: Scope) => TypedValue[];

/** Core's functions that read only their input (`resolve()`, `exists()`): core's own implementation is called. */
const INPUT_ONLY_FUNCTIONS = new Set(['resolve', 'exists', 'empty', 'hasValue', 'count', 'distinct', 'single', 'first', 'last', 'not']);
/** Core's functions whose argument names a type and is never evaluated. */
const TYPE_FUNCTIONS = new Set(['as', 'ofType', 'is']);
/** The functions above never look at the context; core's signature needs one. */
const NO_CONTEXT = { variables: {} };

function union(left: TypedValue[], right: TypedValue[]): TypedValue[] {
  const all = [...left, ...right];
  return all.length > 1 ? removeDuplicates(all) : all;
}

/** Core's `and`: both sides are evaluated, and each must be empty or one boolean. */
function and(left: TypedValue[], right: TypedValue[]): TypedValue[] {
  const l = singleton(left, 'boolean')?.value;
  const r = singleton(right, 'boolean')?.value;
  if (l === true && r === true) return booleanToTypedValue(true);
  return l === false || r === false ? booleanToTypedValue(false) : [];
}

function or(left: TypedValue[], right: TypedValue[]): TypedValue[] {
  const l = singleton(left, 'boolean')?.value;
  const r = singleton(right, 'boolean')?.value;
  if (l === false && r === false) return booleanToTypedValue(false);
  return l || r ? booleanToTypedValue(true) : [];
}

/** Operators whose both sides are expressions, by core's atom class. */
const OPERATORS = new Map<object, (left: TypedValue[], right: TypedValue[]) => TypedValue[]>([
  [UnionAtom, union],
  [EqualsAtom, fhirPathArrayEquals],
  [NotEqualsAtom, fhirPathArrayNotEquals],
  [AndAtom, and],
  [OrAtom, or],
]);

/** `x as Type`: the values of that type. */
function asType(left: Step, type: string): Step {
  return (input, scope) => left(input, scope).filter((value) => value.type === type);
}

/** `x is Type`: empty unless x is one value. */
function isType(left: Step, type: string): Step {
  return (input, scope) => {
    const values = left(input, scope);
    return values.length === 1 ? booleanToTypedValue(fhirPathIs(values[0], type)) : [];
  };
}

function compileDot(atom: DotAtom): Step | undefined {
  const left = compileAtom(atom.left);
  const right = compileAtom(atom.right);
  return left && right && ((input, scope) => right(left(input, scope), scope));
}

function compileOperator(atom: InfixOperatorAtom, operator: (left: TypedValue[], right: TypedValue[]) => TypedValue[]): Step | undefined {
  const left = compileAtom(atom.left);
  const right = compileAtom(atom.right);
  return left && right && ((input, scope) => operator(left(input, scope), right(input, scope)));
}

function compileTypeOperator(atom: AsAtom | IsAtom): Step | undefined {
  const left = compileAtom(atom.left);
  if (!left || !(atom.right instanceof SymbolAtom)) return undefined;
  return atom instanceof AsAtom ? asType(left, atom.right.name) : isType(left, atom.right.name);
}

function compileSymbol(name: string): Step | undefined {
  if (name === '$this') return (input) => input;
  if (name === '%resource') {
    return (_input, scope) => {
      if (!scope.resource) throw new Error('Undefined variable %resource');
      return [scope.resource];
    };
  }
  return name.startsWith('%') ? undefined : propertyStep(name);
}

function compileFunction(atom: FunctionAtom): Step | undefined {
  if (atom.name === 'where' && atom.args.length === 1) {
    const criteria = compileAtom(atom.args[0]);
    return criteria && ((input, scope) => input.filter((value) => toJsBoolean(criteria([value], scope))));
  }
  const delegated = (INPUT_ONLY_FUNCTIONS.has(atom.name) && atom.args.length === 0) || TYPE_FUNCTIONS.has(atom.name);
  return delegated ? (input) => atom.eval(NO_CONTEXT, input) : undefined;
}

/** `x[i]`: core evaluates the index first, and fails on one that is not a number. */
function compileIndexer(atom: IndexerAtom): Step | undefined {
  const left = compileAtom(atom.left);
  const index = compileAtom(atom.expr);
  return left && index && ((input, scope) => {
    const indexes = index(input, scope);
    if (indexes.length !== 1) return [];
    const i = indexes[0].value;
    if (typeof i !== 'number') throw new Error('Invalid indexer expression: should return integer');
    const values = left(input, scope);
    return i in values ? [values[i]] : [];
  });
}

/** A nested FHIRPath expression: evaluated on each input value on its own. */
function compileEach(atom: FhirPathAtom): Step | undefined {
  const child = compileAtom(atom.child);
  return child && ((input, scope) => (input.length > 0 ? input.flatMap((value) => child([value], scope)) : child([], scope)));
}

function compileAtom(atom: Atom): Step | undefined {
  const operator = OPERATORS.get(atom.constructor);
  if (operator && atom instanceof InfixOperatorAtom) return compileOperator(atom, operator);
  if (atom instanceof DotAtom) return compileDot(atom);
  if (atom instanceof AsAtom || atom instanceof IsAtom) return compileTypeOperator(atom);
  if (atom instanceof SymbolAtom) return compileSymbol(atom.name);
  if (atom instanceof FunctionAtom) return compileFunction(atom);
  if (atom instanceof LiteralAtom) return () => [atom.value];
  if (atom instanceof EmptySetAtom) return () => [];
  if (atom instanceof IndexerAtom) return compileIndexer(atom);
  if (atom instanceof FhirPathAtom) return compileEach(atom);
  return undefined;
}

const isBoxed = (value: unknown): value is String | Number | Boolean => value instanceof String || value instanceof Number || value instanceof Boolean;

/** As `evalFhirPathTyped` returns values: a primitive read with its extensions (a String or Number object) as the primitive. */
function unwrapped(values: TypedValue[]): TypedValue[] {
  if (!values.some((typed) => isBoxed(typed.value))) return values;
  return values.map((typed) => (isBoxed(typed.value) ? { type: typed.type, value: typed.value.valueOf() } : typed));
}

/** The expression compiled, or undefined when it uses something only core evaluates. */
export function compileExpression(expression: FhirPathAtom): CompiledExpression | undefined {
  // The expression's own FhirPathAtom, on its one input, is its child on that input.
  const step = compileAtom(expression.child);
  return step && ((input, scope) => unwrapped(step([input], scope)));
}
