export { AuditLog, mergeAlike } from './audit-log.js';
export { authenticationEvent, interactionEvent, type Requester } from './audit-event.js';
