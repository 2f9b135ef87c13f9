import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PoolError } from '../errors/pool-error.js';
import { callback, injected } from './injected.js';
import { parseOptions } from './parse-options.js';

describe('injected and callback fields', () => {
  const schema = z.object({ clock: injected<object>('Clock'), onDone: callback<() => void>().optional() }).strict();

  it('pass what was handed in through untouched', () => {
    const clock = { now: () => 1 };
    const onDone = (): void => undefined;
    const parsed = parseOptions(schema, { clock, onDone }, 'test options');
    expect(parsed.clock).toBe(clock);
    expect(parsed.onDone).toBe(onDone);
  });

  it('refuse the wrong kind with one INVALID_OPTIONS naming the field', () => {
    for (const [input, field, text] of [
      [{ clock: 5 }, 'clock', 'must be a Clock'],
      [{ clock: {}, onDone: 'later' }, 'onDone', 'must be a function'],
    ] as const) {
      try {
        parseOptions(schema, input, 'test options');
        expect.unreachable(`${field} was accepted`);
      } catch (error) {
        expect(error).toBeInstanceOf(PoolError);
        expect((error as PoolError).code).toBe('INVALID_OPTIONS');
        expect((error as PoolError).message).toContain(`${field}: ${text}`);
      }
    }
  });
});
