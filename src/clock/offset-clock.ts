import type { Clock, TimerHandle, TimerOptions } from './clock.js';

/**
 * A clock whose `now()` follows another clock (a shared pool's Redis: issue 11) rather than this machine's:
 * the base clock plus an offset measured with {@link OffsetClock.sync}. Durations and timers stay the base's,
 * so a sync never makes a budget jump. Leases and deadlines in a shared pool are decided by Redis itself (TIME
 * in the scripts); this keeps the figures a participant computes (waits, held times, sweeps of stale queue
 * entries) on the same time line.
 */
export class OffsetClock implements Clock {
  private offsetMs = 0;

  constructor(private readonly base: Clock) {}

  /** The last measured offset: reference time minus base time, ms. */
  get offset(): number {
    return this.offsetMs;
  }

  /**
   * Measures the offset from one reading of the reference clock, taken as the midpoint of the round trip (the
   * error is at most half of it). Resolves with the new offset; a failed reading keeps the old one and rejects.
   */
  async sync(readReference: () => Promise<number>): Promise<number> {
    const before = this.base.monotonic();
    const wallBefore = this.base.now();
    const reference = await readReference();
    const halfTrip = (this.base.monotonic() - before) / 2;
    this.offsetMs = Math.round(reference - (wallBefore + halfTrip));
    return this.offsetMs;
  }

  now(): number {
    return this.base.now() + this.offsetMs;
  }

  monotonic(): number {
    return this.base.monotonic();
  }

  setTimeout(callback: () => void, ms: number, options?: TimerOptions): TimerHandle {
    return this.base.setTimeout(callback, ms, options);
  }

  clearTimeout(handle: TimerHandle): void {
    this.base.clearTimeout(handle);
  }
}
