import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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

  it('refuses a BUNDLE_SPOOL_DIR that is not an existing directory, naming it', () => {
    expect(configFromEnv({ BUNDLE_SPOOL_DIR: tmpdir() }).bundleSpoolDir).toBe(tmpdir());
    expect(() => configFromEnv({ BUNDLE_SPOOL_DIR: path.join(tmpdir(), `missing-${process.pid}-${Date.now()}`) })).toThrow(/BUNDLE_SPOOL_DIR/);
    expect(() => configFromEnv({ BUNDLE_SPOOL_DIR: fileURLToPath(import.meta.url) })).toThrow(/not an existing directory/);
  });
});
