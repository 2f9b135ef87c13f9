import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { resourceConfigSchema } from '../config/schemas.js';
import { ResourceManager } from './resource-manager.js';

function make(overrides: Record<string, unknown> = {}) {
  const clock = new FakeClock();
  const rm = new ResourceManager(resourceConfigSchema.parse({ recoveryHoldMs: 10_000, ...overrides }), clock);
  return { clock, rm };
}

describe('ResourceManager degradation', () => {
  it('enters on queue size, refuses LOW at once, drops cleanup to minimal', () => {
    const { rm } = make({ queueSizeThreshold: 4 });
    expect(rm.evaluate(3)).toBeUndefined();
    expect(() => rm.admit('low', 't')).not.toThrow();
    const change = rm.evaluate(4);
    expect(change).toMatchObject({ type: 'degradationStarted', reasons: ['queueSize'] });
    expect(() => rm.admit('low', 'test-low')).toThrow(expect.objectContaining({ code: 'POOL_DEGRADED' }));
    expect(() => rm.admit('normal', 't')).not.toThrow();
    expect(() => rm.admit('critical', 't')).not.toThrow();
    expect(rm.cleanupLevel()).toBe('minimal');
  });

  it('enters on average wait and on failure rate (only with enough outcomes)', () => {
    const waits = make({ avgWaitTimeThreshold: 1000 });
    waits.rm.recordAllocation(500);
    waits.rm.recordAllocation(1600);
    expect(waits.rm.evaluate(0)).toMatchObject({ reasons: ['avgWaitTime'] });

    const failures = make({ failureRateThreshold: 0.2 });
    failures.rm.recordFailure();
    expect(failures.rm.evaluate(0)).toBeUndefined(); // 1 of 1 is noise
    for (let i = 0; i < 4; i++) failures.rm.recordAllocation(1);
    expect(failures.rm.evaluate(0)).toMatchObject({ reasons: ['failureRate'] });
  });

  it('ends only after every metric stays below threshold × recoveryFactor for recoveryHoldMs', async () => {
    const { rm, clock } = make({ queueSizeThreshold: 10, recoveryFactor: 0.8 });
    rm.evaluate(10);
    // 9 is below the threshold but not below 8 (= 10 × 0.8): still degraded, however long.
    await clock.advance(60_000);
    expect(rm.evaluate(9)).toBeUndefined();
    expect(rm.state().active).toBe(true);
    expect(rm.evaluate(7)).toBeUndefined(); // calm starts now
    await clock.advance(9_999);
    expect(rm.evaluate(7)).toBeUndefined();
    expect(rm.evaluate(9)).toBeUndefined(); // a relapse resets the hold
    await clock.advance(5_000);
    expect(rm.evaluate(7)).toBeUndefined();
    await clock.advance(10_000);
    const ended = rm.evaluate(7);
    expect(ended).toMatchObject({ type: 'degradationEnded' });
    expect(rm.state().active).toBe(false);
    expect(() => rm.admit('low', 't')).not.toThrow();
    expect(rm.cleanupLevel()).toBe('full');
  });
});
