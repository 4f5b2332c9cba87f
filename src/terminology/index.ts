export { expandValueSet, type Coded, type Expansion } from './expand.js';
export { codeAndAncestors, codeAndDescendants, findConcept, isHierarchical } from './hierarchy.js';
export { Terminology } from './service.js';
export { definitionCodeSystemUrls, definitionsSource, layeredSource, stripVersion, type TerminologySource } from './sources.js';
