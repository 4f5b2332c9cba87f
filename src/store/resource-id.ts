import { randomUUID } from 'node:crypto';

/**
 * A new server-assigned resource id: a UUID version 7 (RFC 9562), whose first 48 bits are the time
 * in milliseconds and the rest random. Ids made close in time sort close together, so the
 * `(resource_type, id)` indexes of the resource, history and index tables grow at their end; with
 * random (version 4) UUIDs every create, and every AuditEvent, touched a random page of each.
 */
export function newResourceId(): string {
  const random = randomUUID();
  const time = Date.now().toString(16).padStart(12, '0');
  // random is xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx: keep its random bits and variant, set version 7.
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15)}`;
}
