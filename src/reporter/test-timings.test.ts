import { describe, expect, it } from 'vitest';
import { fakeResult, fakeTest } from '../../test/reporter/fake-playwright.js';
import { budgetShare, timeLimit, timingFromResult, type TestTiming } from './test-timings.js';

describe('timingFromResult', () => {
  it('takes duration, timeout and the pool annotations, the attempt’s own ones last', () => {
    const test = fakeTest({
      title: 'pays',
      describe: ['checkout'],
      timeout: 45_000,
      annotations: [
        { type: 'pool.priority', description: 'critical' },
        { type: 'timeout.budgetMs', description: '30000' },
      ],
    });
    const result = fakeResult({
      retry: 1,
      status: 'timedOut',
      duration: 45_012.6,
      annotations: [
        { type: 'pool.container', description: 'cinnamon-qa-mcp-2' },
        { type: 'pool.waitMs', description: '120' },
        { type: 'timeout.extensions', description: '1' },
        { type: 'timeout.budgetMs', description: 'not a number' },
      ],
    });
    expect(timingFromResult(test, result, '/repo')).toEqual({
      id: 'id-pays',
      title: 'checkout › pays',
      project: 'chromium',
      location: 'tests/shop.spec.ts:7',
      retry: 1,
      status: 'timedOut',
      durationMs: 45_013,
      timeoutMs: 45_000,
      budgetMs: 30_000,
      extensions: 1,
      priority: 'critical',
      container: 'cinnamon-qa-mcp-2',
      waitMs: 120,
    });
  });
});

describe('budgetShare', () => {
  const t = (over: Partial<TestTiming>): TestTiming => ({ id: 'a', title: 'a', project: '', location: '', retry: 0, status: 'passed', durationMs: 5_000, timeoutMs: 10_000, ...over });
  it('measures against the final timeout, the pool budget without one, nothing without either', () => {
    expect(budgetShare(t({}))).toBe(0.5);
    expect(timeLimit(t({ timeoutMs: 0, budgetMs: 20_000 }))).toBe(20_000);
    expect(budgetShare(t({ timeoutMs: 0 }))).toBeUndefined();
    expect(budgetShare(t({ status: 'skipped' }))).toBeUndefined();
  });
});
