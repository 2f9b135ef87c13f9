import { describe, expect, it } from 'vitest';
import { expectOneRefusal } from '../../test/support/options-refusal.js';
import { MAX_TRACE_BUDGET_MS, MIN_TRACE_BUDGET_MS, traceBodySchema } from './coordinator-api.js';
import { clampTraceBudget, DEFAULT_CLIENT_REQUEST_TIMEOUT_MS, parsePoolClientOptions, PoolClient, type PoolClientOptions } from './pool-client.js';

const url = 'http://127.0.0.1:40123';

describe('PoolClient options', () => {
  it('fill the request budget from its named constant', () => {
    expect(parsePoolClientOptions({ url, token: 't' })).toEqual({ url, token: 't', requestTimeoutMs: DEFAULT_CLIENT_REQUEST_TIMEOUT_MS });
    expect(parsePoolClientOptions({ url, token: '', requestTimeoutMs: 5_000 }).requestTimeoutMs).toBe(5_000);
  });

  it('refuse each bad option with one INVALID_OPTIONS naming the field and the value', () => {
    const cases: Array<[PoolClientOptions, RegExp]> = [
      [{ url: 'not a url', token: 't' }, /url: .*\(got "not a url"\)/],
      [{ url, token: 7 } as never, /token: .*\(got 7\)/],
      [{ url, token: 't', requestTimeoutMs: 0 }, /requestTimeoutMs: .*\(got 0\)/],
      [{ url, token: 't', requestTimeoutMs: 1.5 }, /requestTimeoutMs: .*\(got 1\.5\)/],
      [{ url, token: 't', timeoutMs: 5 } as never, /unknown option 'timeoutMs'/],
    ];
    for (const [input, problem] of cases) expectOneRefusal(() => new PoolClient(input), 'PoolClient options', problem);
  });
});

describe('clampTraceBudget', () => {
  it('keeps a budget within what the coordinator accepts, rounded', () => {
    expect(clampTraceBudget(0)).toBe(MIN_TRACE_BUDGET_MS);
    expect(clampTraceBudget(MIN_TRACE_BUDGET_MS - 1)).toBe(MIN_TRACE_BUDGET_MS);
    expect(clampTraceBudget(2_500.4)).toBe(2_500);
    expect(clampTraceBudget(MAX_TRACE_BUDGET_MS + 1)).toBe(MAX_TRACE_BUDGET_MS);
    expect(clampTraceBudget(Number.MAX_SAFE_INTEGER)).toBe(MAX_TRACE_BUDGET_MS);
    // Whatever the holder asks, the body it sends passes the coordinator's schema.
    for (const asked of [-5, 0, 99.6, 100, 7_777.7, 120_000, 10 ** 9]) {
      expect(traceBodySchema.safeParse({ token: 1, trace: 'trace-1', budgetMs: clampTraceBudget(asked) }).success).toBe(true);
    }
  });
});
