import { describe, expect, it } from 'vitest';
import { configFromEnv } from '../src/config.js';

describe('configuration', () => {
  it('takes SEARCH_COUNT_TIMEOUT_MS in milliseconds, 100 by default, 0 for no limit', () => {
    expect(configFromEnv({}).searchCountTimeoutMs).toBe(100);
    expect(configFromEnv({ SEARCH_COUNT_TIMEOUT_MS: '0' }).searchCountTimeoutMs).toBe(0);
    expect(configFromEnv({ SEARCH_COUNT_TIMEOUT_MS: '250' }).searchCountTimeoutMs).toBe(250);
  });

  it('refuses a SEARCH_COUNT_TIMEOUT_MS that is not a whole number of milliseconds, naming it', () => {
    for (const value of ['abc', '-5', '1.5', '']) {
      expect(() => configFromEnv({ SEARCH_COUNT_TIMEOUT_MS: value })).toThrow(/SEARCH_COUNT_TIMEOUT_MS/);
    }
  });
});
