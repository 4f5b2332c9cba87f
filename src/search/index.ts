export { SearchEngine, type ResourceVersion, type SearchPage, type SearchRequest, type VersionCheck } from './engine.js';
export { compartmentMembers, compartmentTypes } from './compartment.js';
export { parseDateRange, type DateRange } from './date-range.js';
export { INDEX_TABLES } from './index-writer.js';
export type { ReindexJob } from './reindex.js';
export { parseCount, splitValues } from './parse.js';
export type { ParamType, SearchParam, SearchParameterRegistry } from './registry.js';
export { isResultParameter } from './request.js';
export { SUPPORTED_MODIFIERS } from './modifiers.js';
