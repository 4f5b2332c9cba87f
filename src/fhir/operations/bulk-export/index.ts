export { bulkExportHttp, type BulkExportHttpOptions } from './http.js';
export { exportOperation, fileUrl, statusUrl } from './kick-off.js';
export { BulkExportRunner, runnerFor, type BulkExportRunnerOptions } from './runner.js';
export { EXPORT_RETENTION_HOURS } from './jobs.js';
