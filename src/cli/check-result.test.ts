import { describe, expect, it } from 'vitest';
import { formatChecks, hasFailures, type CheckResult } from './check-result.js';

describe('formatChecks', () => {
  it('marks each check, prints fixes under misses only, and sums up', () => {
    const results: CheckResult[] = [
      { name: 'Node.js', status: 'ok', detail: 'v20.20.2', fix: 'never shown for ok' },
      { name: 'Docker daemon', status: 'warn', detail: 'no answer', fix: 'start Docker' },
      { name: 'Redis', status: 'skip', detail: 'not configured' },
      { name: 'Pool ports', status: 'fail', detail: 'in use: 3001', fix: 'choose another basePort' },
    ];
    expect(formatChecks(results)).toBe(
      [
        '✓ Node.js        v20.20.2',
        '! Docker daemon  no answer',
        '                 fix: start Docker',
        '- Redis          not configured',
        '✗ Pool ports     in use: 3001',
        '                 fix: choose another basePort',
        '',
        '1 problem to fix before a run, 1 warning.',
        '',
      ].join('\n'),
    );
    expect(hasFailures(results)).toBe(true);
  });

  it('says ready when nothing failed', () => {
    const results: CheckResult[] = [{ name: 'Node.js', status: 'ok', detail: 'v20' }];
    expect(formatChecks(results).endsWith('\nReady to run.\n')).toBe(true);
    expect(hasFailures(results)).toBe(false);
  });
});
