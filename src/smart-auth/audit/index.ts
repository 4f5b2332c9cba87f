export { AuditLog, mergeAlike } from './audit-log.js';
export { authenticationEvent, interactionEvent, type Interaction, type Requester } from './audit-event.js';
