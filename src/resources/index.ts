/** What some resource types do beyond CRUD: rules on the write path and their operations. */
export * from './scheduling/index.js';
