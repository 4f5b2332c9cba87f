import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LoginThrottle } from '../../src/smart-auth/login-throttle.js';
import { Database } from '../../src/store/index.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

let database: TestDatabase;
/** Two pools on one database: two server processes. */
let dbA: Database;
let dbB: Database;
let a: LoginThrottle;
let b: LoginThrottle;

beforeAll(async () => {
  database = await createTestDatabase();
  dbA = new Database(database.url, 10);
  dbB = new Database(database.url, 10);
  a = new LoginThrottle(dbA);
  b = new LoginThrottle(dbB);
});

afterAll(async () => {
  await dbA.close();
  await dbB.close();
  await database.drop();
});

beforeEach(async () => {
  await dbA.query('DELETE FROM auth_login_failure');
});

/** A whole failed login as the login page does it. */
async function failLogin(throttle: LoginThrottle, username: string, address: string): Promise<void> {
  const verdict = await throttle.check(username, address);
  expect(verdict.allowed).toBe(true);
  await throttle.recordFailure(username, address);
}

async function rows(key: string): Promise<number> {
  const { rows: result } = await dbA.query<{ n: number }>('SELECT count(*)::int AS n FROM auth_login_failure WHERE key = $1', [key]);
  return result[0].n;
}

/** Moves every row of a key into the past, as if time had passed. */
async function age(key: string, seconds: number): Promise<void> {
  await dbA.query('UPDATE auth_login_failure SET at = at - make_interval(secs => $2::float8) WHERE key = $1', [key, seconds]);
}

describe('LoginThrottle', () => {
  it('allows an attempt with no failures behind it', async () => {
    expect(await a.check('alice', '10.0.0.1')).toEqual({ allowed: true, retryAfterSeconds: 0 });
  });

  it('refuses an account after 5 failures in 15 minutes, for about 15 minutes, from any address', async () => {
    for (let i = 0; i < 5; i++) await failLogin(a, 'alice', `10.0.0.${i}`);
    const verdict = await a.check('alice', '10.9.9.9');
    expect(verdict.allowed).toBe(false);
    expect(verdict.retryAfterSeconds).toBeGreaterThan(890);
    expect(verdict.retryAfterSeconds).toBeLessThanOrEqual(900);
  });

  it('allows the fifth attempt after four failures', async () => {
    for (let i = 0; i < 4; i++) await failLogin(a, 'alice', '10.0.0.1');
    expect((await a.check('alice', '10.0.0.1')).allowed).toBe(true);
  });

  it('records nothing for a refused attempt', async () => {
    for (let i = 0; i < 5; i++) await failLogin(a, 'alice', '10.0.0.1');
    const before = await dbA.query('SELECT key, at FROM auth_login_failure ORDER BY key, at');
    expect((await a.check('alice', '10.0.0.1')).allowed).toBe(false);
    const after = await dbA.query('SELECT key, at FROM auth_login_failure ORDER BY key, at');
    expect(after.rows).toEqual(before.rows);
  });

  it('slides: the account is let in again as soon as enough failures have aged out of the window', async () => {
    for (let i = 0; i < 5; i++) await failLogin(a, 'alice', '10.0.0.1');
    await age('user:alice', 10 * 60);
    const verdict = await a.check('alice', '10.0.0.1');
    expect(verdict.allowed).toBe(false);
    expect(verdict.retryAfterSeconds).toBeGreaterThan(290);
    expect(verdict.retryAfterSeconds).toBeLessThanOrEqual(300);
    await age('user:alice', 5 * 60 + 1);
    expect((await a.check('alice', '10.0.0.1')).allowed).toBe(true);
  });

  it('waits for the fifth-latest failure: older failures beyond the limit do not lengthen the wait', async () => {
    // 9 failures: 5 of them 14 minutes old, 4 fresh. Only one old one must expire: about a minute.
    await dbA.query(`INSERT INTO auth_login_failure (key, at) SELECT 'user:alice', now() - interval '14 minutes' FROM generate_series(1, 5)`);
    await dbA.query(`INSERT INTO auth_login_failure (key) SELECT 'user:alice' FROM generate_series(1, 4)`);
    const verdict = await a.check('alice', '10.0.0.1');
    expect(verdict.allowed).toBe(false);
    expect(verdict.retryAfterSeconds).toBeGreaterThan(50);
    expect(verdict.retryAfterSeconds).toBeLessThanOrEqual(60);
  });

  it('is shared by processes: failures recorded through one refuse logins through the other', async () => {
    for (let i = 0; i < 3; i++) await failLogin(a, 'bob', '10.0.0.1');
    for (let i = 0; i < 2; i++) await failLogin(b, 'bob', '10.0.0.1');
    expect((await a.check('bob', '10.0.0.1')).allowed).toBe(false);
    expect((await b.check('bob', '10.0.0.1')).allowed).toBe(false);
  });

  it('throttles an address after 20 failures across usernames, leaving other addresses alone', async () => {
    for (let i = 0; i < 20; i++) await failLogin(i % 2 ? a : b, `user${i}`, '10.0.0.66');
    const verdict = await a.check('someone-new', '10.0.0.66');
    expect(verdict.allowed).toBe(false);
    expect(verdict.retryAfterSeconds).toBeGreaterThan(890);
    expect((await a.check('someone-new', '10.0.0.67')).allowed).toBe(true);
  });

  it('a success forgives the account its failures, but not the address', async () => {
    for (let i = 0; i < 4; i++) await failLogin(a, 'carol', '10.0.0.1');
    expect((await a.check('carol', '10.0.0.1')).allowed).toBe(true);
    await a.recordSuccess('carol', '10.0.0.1');
    expect(await rows('user:carol')).toBe(0);
    expect(await rows('addr:10.0.0.1')).toBe(4);
    expect(await rows('pending:user:carol')).toBe(0);
    expect(await rows('pending:addr:10.0.0.1')).toBe(0);
    for (let i = 0; i < 5; i++) await failLogin(a, 'carol', '10.0.0.2');
    expect((await a.check('carol', '10.0.0.2')).allowed).toBe(false);
  });

  it('turns the pending attempt into one failure per key', async () => {
    await failLogin(a, 'dave', '10.0.0.1');
    const { rows: all } = await dbA.query<{ key: string }>('SELECT key FROM auth_login_failure ORDER BY key');
    expect(all.map((row) => row.key)).toEqual(['addr:10.0.0.1', 'user:dave']);
  });

  it('counts attempts in flight: of 20 parallel guesses at one account through two processes, only 5 are allowed', async () => {
    const verdicts = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).check('erin', `10.0.1.${i}`)));
    expect(verdicts.filter((verdict) => verdict.allowed)).toHaveLength(5);
    expect(verdicts.filter((verdict) => !verdict.allowed).every((verdict) => verdict.retryAfterSeconds > 0)).toBe(true);
    expect(await rows('pending:user:erin')).toBe(5);
  });

  it('lets an attempt that was never settled (a crashed process) expire after a minute', async () => {
    for (let i = 0; i < 5; i++) expect((await a.check('frank', '10.0.0.1')).allowed).toBe(true);
    const verdict = await a.check('frank', '10.0.0.1');
    expect(verdict.allowed).toBe(false);
    expect(verdict.retryAfterSeconds).toBeLessThanOrEqual(60);
    await age('pending:user:frank', 61);
    expect((await a.check('frank', '10.0.0.1')).allowed).toBe(true);
  });

  it('keeps no rows older than the window', async () => {
    await failLogin(a, 'gina', '10.0.0.1');
    await age('user:gina', 16 * 60);
    await age('addr:10.0.0.1', 16 * 60);
    await failLogin(a, 'harry', '10.0.0.2');
    expect(await rows('user:gina')).toBe(0);
    expect(await rows('addr:10.0.0.1')).toBe(0);
    expect(await rows('user:harry')).toBe(1);
  });

  it('takes its limits and window from options', async () => {
    const strict = new LoginThrottle(dbA, { accountLimit: 2, addressLimit: 3, windowSeconds: 60 });
    await failLogin(strict, 'ivy', '10.0.0.1');
    await failLogin(strict, 'ivy', '10.0.0.1');
    const verdict = await strict.check('ivy', '10.0.0.1');
    expect(verdict.allowed).toBe(false);
    expect(verdict.retryAfterSeconds).toBeLessThanOrEqual(60);
    await failLogin(strict, 'jack', '10.0.0.1');
    expect((await strict.check('kim', '10.0.0.1')).allowed).toBe(false);
  });
});
