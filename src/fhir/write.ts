import type { WriteCommand, WriteResult } from '../store/index.js';
import type { InteractionContext } from './types.js';

/** Every write an interaction makes: on the store's one write path, as the requester, in the request's transaction. */
export function write(context: InteractionContext, command: Omit<WriteCommand, 'access'>): Promise<WriteResult> {
  return context.store.write({ ...command, access: context.access }, context.tx);
}
