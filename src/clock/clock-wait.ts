import type { Clock } from './clock.js';

/**
 * Waits `ms` on the injected clock (a fake clock's advance() ends it). The wait keeps the process alive: the
 * task awaiting it is still running (a start waiting for a port to free, a retry pause).
 */
export function sleepOn(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, Math.max(0, ms), { keepAlive: true }));
}

/** `promise`, or a rejection with `timeoutError()` when it has not settled within `ms` on the injected clock. */
export function withinBudget<T>(clock: Clock, promise: Promise<T>, ms: number, timeoutError: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(() => reject(timeoutError()), Math.max(0, ms));
    promise.then(
      (value) => {
        clock.clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clock.clearTimeout(timer);
        reject(error);
      },
    );
  });
}
