import { describe, expect, it } from 'vitest';
import { FakeClock } from './fake-clock.js';
import { OffsetClock } from './offset-clock.js';

describe('OffsetClock', () => {
  it('follows the reference clock from one reading, and keeps durations and timers on the base clock', async () => {
    const base = new FakeClock(1_000_000);
    const clock = new OffsetClock(base);
    expect(clock.now()).toBe(1_000_000);
    // The reference is 30 s ahead of this machine (a CI machine whose clock is off).
    expect(await clock.sync(async () => base.now() + 30_000)).toBe(30_000);
    expect(clock.now()).toBe(1_030_000);
    const monotonic = clock.monotonic();
    let fired = false;
    clock.setTimeout(() => (fired = true), 500);
    await base.advance(499);
    expect(fired).toBe(false);
    await base.advance(1);
    expect(fired).toBe(true);
    expect(clock.monotonic() - monotonic).toBe(500);
    expect(clock.now()).toBe(1_030_500);
  });

  it('keeps the old offset when a reading fails', async () => {
    const base = new FakeClock(5_000);
    const clock = new OffsetClock(base);
    await clock.sync(async () => 2_000);
    await expect(clock.sync(async () => Promise.reject(new Error('redis down')))).rejects.toThrow('redis down');
    expect(clock.offset).toBe(-3_000);
  });
});
