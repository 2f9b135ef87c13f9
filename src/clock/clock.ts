/**
 * Time is injected. `now()` is wall-clock epoch milliseconds (stored in records, shared across processes);
 * `monotonic()` measures durations and budgets and never jumps backwards.
 */
export interface Clock {
  now(): number;
  monotonic(): number;
  /**
   * Calls `callback` after `ms`. A pending timer does not keep the process alive (a lease sweep, a queue
   * deadline must never hold a finished process open) unless `keepAlive` is set: a wait that a running task
   * awaits needs it, or a process with nothing else pending would exit in the middle of that task.
   */
  setTimeout(callback: () => void, ms: number, options?: TimerOptions): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export interface TimerOptions {
  /** Keep the process alive until the timer fires or is cleared. @defaultValue false */
  keepAlive?: boolean;
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

  setTimeout(callback: () => void, ms: number, options?: TimerOptions): TimerHandle {
    const id = nextTimerId++;
    const timer = setTimeout(() => {
      this.timers.delete(id);
      callback();
    }, Math.max(0, ms));
    // A pending timer (a lease sweep, a queue deadline) must never keep a finished process alive.
    if (!options?.keepAlive) timer.unref();
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
