export { codeSystemCodes, expandValueSet, type Coded, type Expansion } from './expand.js';
export { codeAndAncestors, codeAndDescendants, isHierarchical } from './hierarchy.js';
export { definitionsSource, layeredSource, stripVersion, type TerminologySource } from './sources.js';
