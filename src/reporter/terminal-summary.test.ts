import { describe, expect, it } from 'vitest';
import { fixtureAnalytics, fixtureTests } from '../../test/reporter/analytics-fixture.js';
import { computeAnalytics } from '../pool/pool-analytics.js';
import { resourceConfigSchema, timeoutConfigSchema } from '../config/schemas.js';
import { renderTerminalSummary, useColor, wrap } from './terminal-summary.js';

const ANSI = /\u001b\[/;

describe('renderTerminalSummary', () => {
  const analytics = fixtureAnalytics();
  const text = renderTerminalSummary({ analytics, tests: fixtureTests(), origin: 'snapshot pool-report/.pool-snapshot.json', files: ['pool-report/pool-analytics.html'], color: false, width: 100 });

  it('shows pool metrics', () => {
    expect(text).toContain('Container pool analytics  (from snapshot pool-report/.pool-snapshot.json)');
    expect(text).toContain('2 containers · utilisation 86 % · run 2 m 00 s');
    expect(text).toContain('10 allocations (1 failed) · 8 releases · 5 per minute · queue at end 0');
  });

  it('names the run group in the heading when the run has one', () => {
    expect(text).not.toContain('run group');
    const grouped = renderTerminalSummary({ analytics: { ...analytics, runGroup: 'github:9876543210-1' }, origin: 'snapshot x', color: false });
    expect(grouped).toContain('Container pool analytics · run group github:9876543210-1  (from snapshot x)');
  });

  it('shows allocation wait by priority with p50 and p95', () => {
    const byPriority = analytics.resourceMetrics.allocationPatterns.byPriority;
    expect(byPriority.critical).toMatchObject({ count: 3, p50WaitMs: 50, p95WaitMs: 17_200 });
    expect(text).toMatch(/critical\s+3\s+50 ms\s+17\.2 s/);
    expect(text).toMatch(/high\s+2\s+13\.6 s\s+19\.9 s/);
    expect(text).toMatch(/low\s+2\s+19\.9 s\s+26\.9 s/);
  });

  it('shows timeout metrics, extensions and health events', () => {
    expect(text).toContain('execution 20.7 s on average · p95 25.8 s (10 samples)');
    expect(text).toContain('recommended timeout 41.4 s (adaptive: max(p95 × 1.5, average × 2))');
    expect(text).toContain('Extensions  3 granted · 1 denied');
    expect(text).toContain('1 unhealthy · 1 recovered · 1 lease revoked · 1 expired · quarantined: none');
  });

  it('names tests close to their timeout', () => {
    expect(text).toContain('1 of 5 used over 80 % of their timeout');
  });

  it('lists every recommendation with severity and action', () => {
    for (const r of analytics.optimizationRecommendations) {
      expect(text).toContain(r.severity.toUpperCase());
      expect(text).toContain(r.title);
    }
    expect(text).toContain('→ Raise the pool from 2 to 4 containers');
    expect(text.indexOf('CRITICAL')).toBeLessThan(text.indexOf('WARNING'));
  });

  it('is plain text without colour, and keeps lines within the width', () => {
    expect(text).not.toMatch(ANSI);
    for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
  });

  it('uses colour only when asked', () => {
    expect(renderTerminalSummary({ analytics, color: true })).toMatch(ANSI);
  });

  it('says so when there is nothing to recommend', () => {
    const quiet = computeAnalytics({
      now: 1_000,
      startedAt: 0,
      containers: [],
      queue: [],
      leases: [],
      counters: { allocations: 0, releases: 0, expirations: 0, revocations: 0, failedAllocations: 0, cancelledRequests: 0 },
      audit: [],
      executions: [],
      resources: resourceConfigSchema.parse({}),
      timeouts: timeoutConfigSchema.parse({}),
      degradation: { active: false, reasons: [], sample: { queueSize: 0, averageWaitMs: 0, failureRate: 0 } },
    });
    const out = renderTerminalSummary({ analytics: quiet, color: false });
    expect(out).toContain('none: the pool fitted this run');
    expect(out).toContain('(the default: too few samples for adaptive)');
    expect(out).not.toContain('Tests ');
  });
});

describe('useColor', () => {
  it('follows the terminal, NO_COLOR and FORCE_COLOR', () => {
    expect(useColor({ isTTY: true }, {})).toBe(true);
    expect(useColor({ isTTY: false }, {})).toBe(false);
    expect(useColor({}, {})).toBe(false);
    expect(useColor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(useColor({ isTTY: true }, { FORCE_COLOR: '0' })).toBe(false);
    expect(useColor({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
  });
});

describe('wrap', () => {
  it('breaks at spaces and keeps long words whole', () => {
    expect(wrap('aaa bbb ccc', 7)).toEqual(['aaa bbb', 'ccc']);
    expect(wrap('resources.maxWaitTimeMs x', 10)).toEqual(['resources.maxWaitTimeMs', 'x']);
    expect(wrap('', 10)).toEqual(['']);
  });

  it('keeps a unit on the line of its number', () => {
    // Plain word wrap would give ['closest: 41', '% of 6.07 s'].
    expect(wrap('closest: 41 % of 6.07 s', 12)).toEqual(['closest:', '41 % of', '6.07 s']);
    expect(wrap('held 3857 ms, on average', 10)).toEqual(['held', '3857 ms,', 'on average']);
    expect(wrap('\u001b[33m2 of 15\u001b[39m s', 4)).toEqual(['\u001b[33m2 of', '15\u001b[39m s']);
  });
});
