import type { Parameters } from '@medplum/fhirtypes';
import { errors } from '../../errors.js';
import type { ReindexJob } from '../../search/index.js';
import type { Database } from '../../store/index.js';
import type { FhirRequest, FhirResponse, InteractionContext } from '../types.js';
import { requireAdmin } from '../access-checks.js';

/** The progress of a reindex; `job` is absent when it was done within the request. */
function reindexParameters(job: Omit<ReindexJob, 'id'> & { id?: string }): Parameters {
  return {
    resourceType: 'Parameters',
    parameter: [
      ...(job.id ? [{ name: 'job', valueId: job.id }] : []),
      { name: 'status', valueCode: job.status },
      { name: 'total', valueInteger: job.total },
      { name: 'processed', valueInteger: job.processed },
      ...(job.resourceTypes.length ? [{ name: 'type', valueString: job.resourceTypes.join(',') }] : []),
    ],
  };
}

function statusUrl(context: InteractionContext, job: ReindexJob): string {
  return `${context.baseUrl}/$reindex?job=${job.id}`;
}

/** `GET [base]/$reindex?job=id`: a background job's progress; 202 while it runs, 200 once complete. */
async function jobStatus(context: InteractionContext, id: string): Promise<FhirResponse> {
  const job = await context.search.reindexer.job(context.tx ?? context.store.db, id);
  if (!job) throw errors.notFound('$reindex job', id);
  const finished = job.status === 'completed' || job.status === 'failed';
  const progress = `${job.processed} of ${job.total} resources`;
  return { status: finished ? 200 : 202, headers: { 'x-progress': progress }, body: reindexParameters(job) };
}

/**
 * `$reindex` at system, type and instance level: rebuilds search index rows from the stored
 * resources, for data written before a custom SearchParameter existed. Small sets are done in the
 * request (200); large ones become a background job (202, `Content-Location` to its progress).
 */
export async function reindexOperation(request: FhirRequest, context: InteractionContext, type?: string, id?: string): Promise<FhirResponse> {
  requireAdmin(context);
  if (request.method === 'GET') {
    const job = request.query.get('job');
    if (!job || type) throw errors.badRequest('GET $reindex reports a job: GET [base]/$reindex?job=<id>');
    return jobStatus(context, job);
  }
  const db = context.store.db as Database;
  const types = type ? [type] : [];
  const total = await context.search.reindexer.countResources(db, types, id);
  if (id && total === 0) throw errors.notFound(type as string, id);
  if (total <= context.search.reindexInlineLimit) {
    const processed = await context.search.reindexer.reindexNow(db, types, id);
    return { status: 200, body: reindexParameters({ resourceTypes: types, status: 'completed', total, processed }) };
  }
  const job = await context.search.reindexer.createJob(db, types, total);
  context.search.kickReindex();
  return { status: 202, headers: { 'content-location': statusUrl(context, job) }, body: reindexParameters(job) };
}
