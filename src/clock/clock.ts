/**
 * Time is injected. `now()` is wall-clock epoch milliseconds (stored in records, shared across processes);
 * `monotonic()` measures durations and budgets and never jumps backwards.
 */
export interface Clock {
  now(): number;
  monotonic(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export interface TimerHandle {
  readonly id: number;
}

let nextTimerId = 1;

export class SystemClock implements Clock {
  private readonly timers = new Map<number, NodeJS.Timeout>();

  now(): number {
    return Date.now();
  }

  monotonic(): number {
    return performance.now();
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = nextTimerId++;
    const timer = setTimeout(() => {
      this.timers.delete(id);
      callback();
    }, Math.max(0, ms));
    // A pending timer (a lease sweep, a queue deadline) must never keep a finished process alive.
    timer.unref();
    this.timers.set(id, timer);
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    const timer = this.timers.get(handle.id);
    if (timer) {
      clearTimeout(timer);
      this.timers.delete(handle.id);
    }
  }
}
