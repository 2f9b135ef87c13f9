import { describe, expect, it } from 'vitest';
import { isPoolError } from '../errors/pool-error.js';
import { maxRenewalTtlMs, renewalTtlMs } from './renewal-ttl.js';

const lease = { ttlMs: 15_000, debugTtlMs: 3_600_000 };

describe('renewalTtlMs', () => {
  it('gives the pool TTL when the holder asks for nothing or for less', () => {
    expect(renewalTtlMs(lease)).toBe(15_000);
    expect(renewalTtlMs(lease, 1_000)).toBe(15_000);
  });

  it('gives a debugging holder up to lease.debugTtlMs, and refuses more naming the option', () => {
    expect(renewalTtlMs(lease, 3_600_000)).toBe(3_600_000);
    let error: unknown;
    try {
      renewalTtlMs(lease, 3_600_001);
    } catch (e) {
      error = e;
    }
    expect(isPoolError(error, 'INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toContain('lease.debugTtlMs');
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => renewalTtlMs(lease, bad)).toThrow(/1 to 3600000 ms/);
  });

  it('never refuses a request up to ttlMs when debugTtlMs is set below it', () => {
    expect(renewalTtlMs({ ttlMs: 20_000, debugTtlMs: 10_000 }, 20_000)).toBe(20_000);
  });
});

describe('maxRenewalTtlMs', () => {
  it('is debugTtlMs, or ttlMs when debugTtlMs is set below it, and is exactly what a renewal may ask for', () => {
    const below = { ttlMs: 20_000, debugTtlMs: 10_000 };
    expect(maxRenewalTtlMs(lease)).toBe(3_600_000);
    expect(maxRenewalTtlMs(below)).toBe(20_000);
    for (const config of [lease, below]) {
      expect(renewalTtlMs(config, maxRenewalTtlMs(config))).toBe(maxRenewalTtlMs(config));
      expect(() => renewalTtlMs(config, maxRenewalTtlMs(config) + 1)).toThrow(`1 to ${maxRenewalTtlMs(config)} ms`);
    }
  });
});
