import type { Clock, TimerHandle } from './clock.js';

interface PendingTimer {
  id: number;
  at: number;
  seq: number;
  callback: () => void;
}

/**
 * A clock for tests: time moves only when `advance()` is called; due timers fire in time order.
 * Exported publicly so users can unit-test code that takes a Clock.
 */
export class FakeClock implements Clock {
  private current: number;
  private readonly startedAt: number;
  private timers: PendingTimer[] = [];
  private nextId = 1;
  private seq = 0;

  constructor(startEpochMs = Date.UTC(2026, 0, 1)) {
    this.current = startEpochMs;
    this.startedAt = startEpochMs;
  }

  now(): number {
    return this.current;
  }

  monotonic(): number {
    return this.current - this.startedAt;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.push({ id, at: this.current + Math.max(0, ms), seq: this.seq++, callback });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.id !== handle.id);
  }

  pendingTimers(): number {
    return this.timers.length;
  }

  /**
   * Moves time forward by `ms`, firing each due timer at its own instant. Awaits a few microtask turns
   * after each so that async work a timer started can settle before the next one fires.
   */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => t.at <= target)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t.id !== due.id);
      this.current = Math.max(this.current, due.at);
      due.callback();
      await flushMicrotasks();
    }
    this.current = target;
    await flushMicrotasks();
  }
}

export async function flushMicrotasks(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve();
  await new Promise<void>((resolve) => setImmediate(resolve));
}
