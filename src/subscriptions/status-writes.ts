import type { Subscription } from '@medplum/fhirtypes';
import { FhirError } from '../errors.js';
import type { Store } from '../store/index.js';

/**
 * The server's own changes of a Subscription's status (handshake accepted, delivery failed, end
 * reached), through the write path like any change, so they are versioned, visible and in the
 * feed. Only from the statuses given, and only if nobody changed the Subscription since it was
 * read (If-Match): a client's concurrent change wins.
 */
export async function changeStatus(
  store: Store,
  id: string,
  from: Subscription['status'][],
  to: Subscription['status'],
  error?: string,
): Promise<boolean> {
  const current = await store.read('Subscription', id);
  if (!current?.json || current.deleted) return false;
  const subscription = JSON.parse(current.json) as Subscription;
  if (!from.includes(subscription.status)) return false;
  const next: Subscription = { ...subscription, status: to };
  if (error) next.error = error;
  else delete next.error;
  try {
    await store.write({ operation: 'update', resourceType: 'Subscription', id, ifMatch: current.versionId, next: () => next });
    return true;
  } catch (failure) {
    if (failure instanceof FhirError && failure.status === 412) return false;
    throw failure;
  }
}
