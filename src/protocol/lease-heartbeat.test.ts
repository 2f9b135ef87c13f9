import { describe, expect, it } from 'vitest';
import { expectOneRefusal } from '../../test/support/options-refusal.js';
import type { RenewResponse } from './coordinator-api.js';
import { defaultHeartbeatInterval, HEARTBEATS_PER_TTL, LeaseHeartbeat, MIN_HEARTBEAT_MS, parseHeartbeatOptions, type HeartbeatOptions } from './lease-heartbeat.js';

const lease = { leaseId: 'l1', token: 1, ttlMs: 15_000 };
const renewer = { renew: (): Promise<RenewResponse> => Promise.reject(new Error('not called')) };

describe('LeaseHeartbeat options', () => {
  it('beat HEARTBEATS_PER_TTL times per TTL by default, never more often than MIN_HEARTBEAT_MS', () => {
    expect(defaultHeartbeatInterval(15_000)).toBe(15_000 / HEARTBEATS_PER_TTL);
    expect(defaultHeartbeatInterval(1_000)).toBe(Math.floor(1_000 / HEARTBEATS_PER_TTL));
    expect(defaultHeartbeatInterval(MIN_HEARTBEAT_MS * HEARTBEATS_PER_TTL - 1)).toBe(MIN_HEARTBEAT_MS);
    expect(defaultHeartbeatInterval(1)).toBe(MIN_HEARTBEAT_MS);
  });

  it('leave unset options unset (interval from the TTL, renewals at the pool TTL)', () => {
    expect(parseHeartbeatOptions(undefined)).toEqual({});
    expect(parseHeartbeatOptions({ intervalMs: 200, ttlMs: 60_000 })).toEqual({ intervalMs: 200, ttlMs: 60_000 });
  });

  it('refuse each bad option with one INVALID_OPTIONS naming the field and the value', () => {
    const cases: Array<[HeartbeatOptions, RegExp]> = [
      [{ intervalMs: 0 }, /intervalMs: .*\(got 0\)/],
      [{ ttlMs: 2.5 }, /ttlMs: .*\(got 2\.5\)/],
      [{ onLost: true } as never, /onLost: must be a function/],
      [{ everyMs: 10 } as never, /unknown option 'everyMs'/],
    ];
    for (const [input, problem] of cases) expectOneRefusal(() => new LeaseHeartbeat(renewer, lease, input).stop(), 'LeaseHeartbeat options', problem);
  });
});

describe('LeaseHeartbeat: how long the lease is known to live', () => {
  const renewed = (ttlMs: number): RenewResponse => ({ lease: { ...lease, ttlMs }, contended: false }) as unknown as RenewResponse;

  it('a renewal that got through extends the cover by its TTL; one that failed leaves it as it was', async () => {
    let answer: () => Promise<RenewResponse> = () => Promise.resolve(renewed(60_000));
    const heartbeat = new LeaseHeartbeat({ renew: () => answer() }, { ...lease, ttlMs: 1_000 }, { intervalMs: 3_600_000 });
    try {
      // The grant's own TTL: at most 1 s from when the heartbeat started.
      expect(heartbeat.confirmedMsLeft()).toBeLessThanOrEqual(1_000);
      await heartbeat.renewNow();
      const afterRenewal = heartbeat.confirmedMsLeft();
      expect(afterRenewal).toBeGreaterThan(1_000);
      answer = () => Promise.reject(new Error('socket hang up'));
      await expect(heartbeat.renewNow()).rejects.toThrow('socket hang up');
      expect(heartbeat.confirmedMsLeft()).toBeLessThanOrEqual(afterRenewal);
      expect(heartbeat.lost).toBeUndefined();
    } finally {
      heartbeat.stop();
    }
  });
});
