import { z } from 'zod';

/**
 * Schema fields for what a caller hands in rather than configures (a runtime, a clock, a logger, a callback):
 * checked only for their kind, passed through untouched, so an options object stays `.strict()`.
 */
export function injected<T>(name: string): z.ZodType<T, T> {
  return z.custom<T>((value) => typeof value === 'object' && value !== null, { message: `must be a ${name}` });
}

/** A callback field: any function. */
export function callback<T extends (...args: never[]) => unknown>(): z.ZodType<T, T> {
  return z.custom<T>((value) => typeof value === 'function', { message: 'must be a function' });
}
