import { expect } from 'vitest';
import { isPoolError, type PoolError } from '../../src/errors/pool-error.js';

/**
 * The PoolError `build` throws for bad options; fails the test when `build` accepts them or throws something
 * else (a RangeError, a ZodError), so a check that moved back to a hand-written throw is caught.
 */
export function optionsRefusal(build: () => unknown): PoolError {
  try {
    build();
  } catch (error) {
    if (isPoolError(error)) return error;
    throw error;
  }
  throw new Error('the options were accepted');
}

/** `build` refuses its options with one INVALID_OPTIONS about `what` ("CleanupService options") naming one problem. */
export function expectOneRefusal(build: () => unknown, what: string, problem: RegExp): void {
  const error = optionsRefusal(build);
  expect(error.code).toBe('INVALID_OPTIONS');
  expect(error.message.startsWith(`Invalid ${what}:\n`)).toBe(true);
  expect(error.data.problems).toEqual([expect.stringMatching(problem)]);
}
