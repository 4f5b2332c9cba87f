import { errors } from '../errors.js';
import { isResourceType } from '../definitions/index.js';
import { capabilities } from './interactions/capabilities.js';
import { create } from './interactions/create.js';
import { conditionalDelete, deleteInteraction } from './interactions/delete.js';
import { history } from './interactions/history.js';
import { conditionalPatch, patch } from './interactions/patch.js';
import { read } from './interactions/read.js';
import { search } from './interactions/search.js';
import { batchOrTransaction } from './interactions/transaction.js';
import { conditionalUpdate, update } from './interactions/update.js';
import { vread } from './interactions/vread.js';
import { isValidId } from './ids.js';
import { runOperation } from './operations/index.js';
import type { FhirRequest, FhirResponse, InteractionContext } from './types.js';

type Handler = () => Promise<FhirResponse>;

/**
 * Picks the handler for the request's method among those a URL pattern allows (405 names the
 * allowed ones), and notes on the request which FHIR interaction it is (for the audit record).
 */
function byMethod(request: FhirRequest, handlers: Partial<Record<string, [interaction: string, handler: Handler]>>): Promise<FhirResponse> {
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  const chosen = handlers[method];
  if (!chosen) throw errors.methodNotAllowed(request.method, `/${request.path}`, Object.keys(handlers));
  request.interaction = chosen[0];
  return chosen[1]();
}

function operation(request: FhirRequest, run: () => Promise<FhirResponse>): Promise<FhirResponse> {
  request.interaction = 'operation';
  return run();
}

function isTransaction(request: FhirRequest): boolean {
  return (request.body as { type?: string } | undefined)?.type === 'transaction';
}

function operationName(segment: string | undefined): string | undefined {
  return segment?.startsWith('$') ? segment.slice(1) : undefined;
}

function requireType(type: string): void {
  if (!isResourceType(type)) throw errors.unknownType(type);
}

function requireId(id: string): void {
  if (!isValidId(id)) throw errors.invalidId(id);
}

/**
 * Maps a FHIR request to its interaction (http.html): the one place that knows the URL patterns.
 * REST calls and the entries of batch and transaction Bundles are all dispatched here.
 */
export function dispatch(request: FhirRequest, context: InteractionContext): Promise<FhirResponse> {
  const segments = request.path.split('/').filter((s) => s.length > 0);
  const [first, second, third, fourth] = segments;
  if (segments.length === 0) {
    return byMethod(request, {
      GET: ['search-system', () => search(request, context)],
      POST: [isTransaction(request) ? 'transaction' : 'batch', () => batchOrTransaction(request, context, dispatch)],
    });
  }
  if (segments.length === 1) {
    const system = operationName(first);
    if (system) return operation(request, () => runOperation(system, 'system', request, context));
    if (first === 'metadata') return byMethod(request, { GET: ['capabilities', () => capabilities(request, context)] });
    if (first === '_history') return byMethod(request, { GET: ['history-system', () => history(request, context)] });
    if (first === '_search') return byMethod(request, { POST: ['search-system', () => search(request, context)] });
    requireType(first);
    return byMethod(request, {
      GET: ['search-type', () => search(request, context, first)],
      POST: ['create', () => create(request, context, first)],
      PUT: ['update', () => conditionalUpdate(request, context, first)],
      PATCH: ['patch', () => conditionalPatch(request, context, first)],
      DELETE: ['delete', () => conditionalDelete(request, context, first)],
    });
  }
  requireType(first);
  if (segments.length === 2) {
    const typeOperation = operationName(second);
    if (typeOperation) return operation(request, () => runOperation(typeOperation, 'type', request, context, first));
    if (second === '_search') return byMethod(request, { POST: ['search-type', () => search(request, context, first)] });
    if (second === '_history') return byMethod(request, { GET: ['history-type', () => history(request, context, first)] });
    requireId(second);
    return byMethod(request, {
      GET: ['read', () => read(request, context, first, second)],
      PUT: ['update', () => update(request, context, first, second)],
      PATCH: ['patch', () => patch(request, context, first, second)],
      DELETE: ['delete', () => deleteInteraction(request, context, first, second)],
    });
  }
  requireId(second);
  const instanceOperation = operationName(third);
  if (segments.length === 3 && instanceOperation) return operation(request, () => runOperation(instanceOperation, 'instance', request, context, first, second));
  if (segments.length === 3 && third === '_history') return byMethod(request, { GET: ['history-instance', () => history(request, context, first, second)] });
  if (segments.length === 4 && third === '_history') return byMethod(request, { GET: ['vread', () => vread(request, context, first, second, fourth)] });
  if (segments.length === 3 && (third === '*' || isResourceType(third))) {
    const compartment = { type: first, id: second, member: third };
    return byMethod(request, { GET: ['search-type', () => search(request, context, undefined, compartment)] });
  }
  throw errors.unknownRoute(request.method, `/${request.path}`);
}
