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

/** Picks the handler for the request's method among those a URL pattern allows; 405 names the allowed ones. */
function byMethod(request: FhirRequest, handlers: Partial<Record<string, Handler>>): Promise<FhirResponse> {
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  const handler = handlers[method];
  if (!handler) throw errors.methodNotAllowed(request.method, `/${request.path}`, Object.keys(handlers));
  return handler();
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
      GET: () => search(request, context),
      POST: () => batchOrTransaction(request, context, dispatch),
    });
  }
  if (segments.length === 1) {
    const system = operationName(first);
    if (system) return runOperation(system, 'system', request, context);
    if (first === 'metadata') return byMethod(request, { GET: () => capabilities(request, context) });
    if (first === '_history') return byMethod(request, { GET: () => history(request, context) });
    if (first === '_search') return byMethod(request, { POST: () => search(request, context) });
    requireType(first);
    return byMethod(request, {
      GET: () => search(request, context, first),
      POST: () => create(request, context, first),
      PUT: () => conditionalUpdate(request, context, first),
      PATCH: () => conditionalPatch(request, context, first),
      DELETE: () => conditionalDelete(request, context, first),
    });
  }
  requireType(first);
  if (segments.length === 2) {
    const typeOperation = operationName(second);
    if (typeOperation) return runOperation(typeOperation, 'type', request, context, first);
    if (second === '_search') return byMethod(request, { POST: () => search(request, context, first) });
    if (second === '_history') return byMethod(request, { GET: () => history(request, context, first) });
    requireId(second);
    return byMethod(request, {
      GET: () => read(request, context, first, second),
      PUT: () => update(request, context, first, second),
      PATCH: () => patch(request, context, first, second),
      DELETE: () => deleteInteraction(request, context, first, second),
    });
  }
  requireId(second);
  const instanceOperation = operationName(third);
  if (segments.length === 3 && instanceOperation) return runOperation(instanceOperation, 'instance', request, context, first, second);
  if (segments.length === 3 && third === '_history') return byMethod(request, { GET: () => history(request, context, first, second) });
  if (segments.length === 4 && third === '_history') return byMethod(request, { GET: () => vread(request, context, first, second, fourth) });
  if (segments.length === 3 && (third === '*' || isResourceType(third))) {
    const compartment = { type: first, id: second, member: third };
    return byMethod(request, { GET: () => search(request, context, undefined, compartment) });
  }
  throw errors.unknownRoute(request.method, `/${request.path}`);
}
