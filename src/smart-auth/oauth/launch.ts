import type { FastifyInstance } from 'fastify';
import type { Database } from '../../store/index.js';
import { oauthErrors } from '../auth-errors.js';
import { compilePolicy } from '../policy.js';
import { bearerClaims } from './bearer.js';
import type { OAuthServer } from './context.js';
import { randomSecret, sha256 } from './secrets.js';

/** A launch value is good for one authorization, within five minutes (CONTRACT.md). */
const LAUNCH_SECONDS = 300;

/** The EHR's context of a launch: ids, as the token response gives them. */
export interface LaunchContext {
  patient?: string;
  encounter?: string;
}

/** Launch values (the EHR's side of an EHR launch), kept as hashes. */
export class Launches {
  constructor(private readonly db: Database) {}

  async create(context: LaunchContext, createdBy: string): Promise<string> {
    const launch = randomSecret();
    await this.db.query('DELETE FROM auth_launch WHERE expires < now()');
    await this.db.query('INSERT INTO auth_launch (id_hash, context, created_by, expires) VALUES ($1, $2, $3, now() + make_interval(secs => $4))', [
      sha256(launch),
      context,
      createdBy,
      LAUNCH_SECONDS,
    ]);
    return launch;
  }

  /** The launch's context, once: a used or expired launch is undefined. */
  async consume(launch: string): Promise<LaunchContext | undefined> {
    const { rows } = await this.db.query<{ context: LaunchContext }>(
      'UPDATE auth_launch SET used = true WHERE id_hash = $1 AND NOT used AND expires > now() RETURNING context',
      [sha256(launch)],
    );
    return rows[0]?.context;
  }
}

const REFERENCE = { patient: /^Patient\/([A-Za-z0-9\-.]{1,64})$/, encounter: /^Encounter\/([A-Za-z0-9\-.]{1,64})$/ };

/** `{"patient": "Patient/1", "encounter": "Encounter/2"}` to ids; the patient is required. */
function launchContext(body: unknown): LaunchContext {
  const input = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const patient = typeof input.patient === 'string' ? REFERENCE.patient.exec(input.patient)?.[1] : undefined;
  if (!patient) throw oauthErrors.invalidRequest('"patient" must be a reference such as "Patient/123"');
  if (input.encounter === undefined) return { patient };
  const encounter = typeof input.encounter === 'string' ? REFERENCE.encounter.exec(input.encounter)?.[1] : undefined;
  if (!encounter) throw oauthErrors.invalidRequest('"encounter" must be a reference such as "Encounter/456"');
  return { patient, encounter };
}

/** POST /oauth/launch: an admin's or a practitioner's token (the EHR) creates a launch for an app. */
export function launchRoutes(app: FastifyInstance, server: OAuthServer): void {
  app.post('/oauth/launch', async (request, reply) => {
    const claims = await bearerClaims(request, server.auth);
    const mayLaunch = claims.role === 'practitioner' || claims.role === 'admin' || compilePolicy(claims).admin;
    if (!mayLaunch) throw oauthErrors.accessDenied('Only a practitioner or an administrator may launch an app');
    const launch = await server.launches.create(launchContext(request.body), claims.sub);
    return reply.code(201).send({ launch });
  });
}
