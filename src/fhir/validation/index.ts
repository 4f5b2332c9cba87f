export { assertValidResource, validateResource, warmUpValidation } from './validate-resource.js';
export { checkReferenceSyntax } from './reference-syntax.js';
export type { ReferenceSyntax } from './reference-syntax.js';
export { requiredCodeSet, codeSetHas } from './required-bindings.js';
export type { CodeSet } from './required-bindings.js';
