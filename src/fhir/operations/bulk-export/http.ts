import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { asFhirError, FhirError } from '../../../errors.js';
import type { AccessPolicy, SmartAuth } from '../../../smart-auth/index.js';
import type { Database } from '../../../store/index.js';
import { accessPolicyOf } from '../../authenticate.js';
import { fileUrl } from './kick-off.js';
import { deleteJob, fileChunks, fileExists, outputFiles, ownJob, type ExportJobRow } from './jobs.js';

export interface BulkExportHttpOptions {
  db: Database;
  auth: SmartAuth;
  /** The public FHIR base URL (BASE_URL + /fhir). */
  fhirBaseUrl: string;
}

function sendError(reply: FastifyReply, error: unknown, request: FastifyRequest): FastifyReply {
  const fhirError = asFhirError(error);
  if (fhirError.status >= 500) request.log.error({ err: error }, 'bulk export request failed');
  return reply
    .code(fhirError.status)
    .headers(fhirError.headers)
    .type('application/fhir+json; charset=utf-8')
    .send(JSON.stringify(fhirError.toOperationOutcome()));
}

const notFound = (id: string) => new FhirError(404, 'not-found', 'not-found', `Bulk export ${id} not found (unknown, cancelled, expired or not yours)`);

/** The job, if the bearer token's client started it (any other: 404, as if it did not exist). */
async function requireJob(request: FastifyRequest, options: BulkExportHttpOptions, id: string): Promise<{ job: ExportJobRow; policy: AccessPolicy }> {
  const policy = await accessPolicyOf(request, options.auth);
  const job = await ownJob(options.db, id, policy);
  if (!job) throw notFound(id);
  return { job, policy };
}

/** A download of exported data is a disclosure: audited like the reads it stands for, naming the file. */
function recordDownload(options: BulkExportHttpOptions, request: FastifyRequest, policy: AccessPolicy, jobId: string, file: string): void {
  options.auth.audit?.recordInteraction({
    interaction: 'operation',
    requester: { access: policy, address: request.ip },
    status: 200,
    query: `$export file ${file} of bulk-export/${jobId}`,
  });
}

/** The complete-status manifest (export.html#response---complete-status). */
async function manifest(options: BulkExportHttpOptions, job: ExportJobRow) {
  const files = await outputFiles(options.db, job.id);
  return {
    transactionTime: job.transaction_time.toISOString(),
    request: job.request_url,
    requiresAccessToken: true,
    output: files.map((file) => ({ type: file.type, url: fileUrl(options.fhirBaseUrl, job.id, file.type, file.part), count: file.count })),
    error: [],
  };
}

/**
 * The status URL and the output files of `$export` jobs, outside the FHIR router: the manifest is
 * `application/json` and files are streamed NDJSON, chunk by chunk. Both need the bearer token of
 * the client that started the export. Any process answers for any job: all of it is in PostgreSQL.
 */
export function bulkExportHttp(app: FastifyInstance, options: BulkExportHttpOptions): void {
  const base = '/fhir/bulk-export';

  app.get<{ Params: { id: string } }>(`${base}/:id`, async (request, reply) => {
    reply.header('access-control-allow-origin', '*');
    try {
      const { job } = await requireJob(request, options, request.params.id);
      if (job.status === 'failed') {
        const error = new FhirError(500, 'export-failed', 'exception', `The export failed: ${job.error ?? 'unknown error'}`);
        return sendError(reply, error, request);
      }
      if (job.status !== 'completed') {
        const progress = `${job.status === 'queued' ? 'queued' : 'running'}: ${job.processed} resources exported, type ${Math.min(job.type_index + 1, job.resource_types.length)} of ${job.resource_types.length}`;
        return reply.code(202).header('x-progress', progress).header('retry-after', '1').send();
      }
      const body = await manifest(options, job);
      if (job.expires) reply.header('expires', job.expires.toUTCString());
      return reply.code(200).type('application/json; charset=utf-8').send(JSON.stringify(body));
    } catch (error) {
      return sendError(reply, error, request);
    }
  });

  app.delete<{ Params: { id: string } }>(`${base}/:id`, async (request, reply) => {
    reply.header('access-control-allow-origin', '*');
    try {
      const { job } = await requireJob(request, options, request.params.id);
      await deleteJob(options.db, job.id);
      const outcome = { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: `Bulk export ${job.id} cancelled and removed` }] };
      return reply.code(202).type('application/fhir+json; charset=utf-8').send(JSON.stringify(outcome));
    } catch (error) {
      return sendError(reply, error, request);
    }
  });

  app.get<{ Params: { id: string; file: string } }>(`${base}/:id/:file`, async (request, reply) => {
    reply.header('access-control-allow-origin', '*');
    try {
      const { job, policy } = await requireJob(request, options, request.params.id);
      const match = /^([A-Za-z]+)-(\d{1,9})\.ndjson$/.exec(request.params.file);
      const missing = new FhirError(404, 'not-found', 'not-found', `File ${request.params.file} of bulk export ${job.id} not found`);
      if (!match || job.status !== 'completed') throw missing;
      const [, type, part] = match;
      if (!(await fileExists(options.db, job.id, type, Number(part)))) throw missing;
      recordDownload(options, request, policy, job.id, request.params.file);
      const stream = Readable.from(fileChunks(options.db, job.id, type, Number(part)), { objectMode: false });
      return reply.code(200).type('application/fhir+ndjson').send(stream);
    } catch (error) {
      return sendError(reply, error, request);
    }
  });
}
