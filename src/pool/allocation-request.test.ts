import { describe, expect, it } from 'vitest';
import { expectOneRefusal } from '../../test/support/options-refusal.js';
import { DEFAULT_ALLOCATION_MAX_RETRIES, DEFAULT_ALLOCATION_PRIORITY, parseAllocationRequest } from './allocation-request.js';

describe('parseAllocationRequest', () => {
  it('fills every default from its named constant (the wait from the pool)', () => {
    const request = parseAllocationRequest({ testRunId: 't' }, 7_000);
    expect(request).toEqual({
      testRunId: 't',
      priority: DEFAULT_ALLOCATION_PRIORITY,
      timeoutMs: 7_000,
      maxRetries: DEFAULT_ALLOCATION_MAX_RETRIES,
      requiredResources: {},
      requestId: expect.any(String),
    });
    expect(parseAllocationRequest({ testRunId: 't', priority: 'high', maxRetries: 2, timeoutMs: 50 }, 7_000)).toMatchObject({ priority: 'high', maxRetries: 2, timeoutMs: 50 });
  });

  it('refuses each bad field with one INVALID_OPTIONS naming it', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ testRunId: '' }, /testRunId: .*\(got ""\)/],
      [{ testRunId: 't', maxRetries: -1 }, /maxRetries: .*\(got -1\)/],
      [{ testRunId: 't', timeoutMs: 0 }, /timeoutMs: .*\(got 0\)/],
      [{ testRunId: 't', retries: 1 }, /unknown option 'retries'/],
    ];
    for (const [input, problem] of cases) expectOneRefusal(() => parseAllocationRequest(input, 1_000), 'allocation request', problem);
  });
});
