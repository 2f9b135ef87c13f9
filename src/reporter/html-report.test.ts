import { describe, expect, it } from 'vitest';
import { fixtureAnalytics, fixtureAudit, fixtureTests } from '../../test/reporter/analytics-fixture.js';
import { renderHtmlReport } from './html-report.js';
import { durationsVsTimeoutsChart, leaseTimelineChart, MAX_DURATION_ROWS, niceTicks, waitByPriorityChart } from './svg-charts.js';
import type { TestTiming } from './test-timings.js';

const VOID_ELEMENTS = new Set(['meta', 'br', 'img', 'hr', 'input', 'link', 'col', 'wbr', 'source']);

/** Tags balance (HTML void elements and self-closing SVG elements aside): enough to catch broken markup. */
function unbalancedTags(markup: string): string[] {
  const withoutComments = markup.replace(/<!--[\s\S]*?-->/g, '').replace(/<!doctype[^>]*>/i, '');
  const stack: string[] = [];
  const problems: string[] = [];
  for (const m of withoutComments.matchAll(/<(\/?)([a-zA-Z][\w:-]*)\b[^>]*?(\/?)>/g)) {
    const [, closing, rawName, selfClosing] = m;
    const name = rawName!.toLowerCase();
    if (selfClosing || VOID_ELEMENTS.has(name)) continue;
    if (!closing) stack.push(name);
    else if (stack.pop() !== name) problems.push(`</${name}> at ${m.index}`);
  }
  return [...problems, ...stack.map((s) => `<${s}> never closed`)];
}

describe('renderHtmlReport', () => {
  const analytics = fixtureAnalytics();
  const html = renderHtmlReport({ analytics, audit: fixtureAudit(), tests: fixtureTests(), origin: 'snapshot <pool>' });

  it('names the run group under the title when the run has one (escaped)', () => {
    expect(html).toContain('<p class="meta">Pool started ');
    const grouped = renderHtmlReport({ analytics: { ...analytics, runGroup: 'gitlab:4411' } });
    expect(grouped).toContain('<p class="meta">Run group gitlab:4411 · pool started ');
  });

  it('is one well-formed, self-contained document', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(unbalancedTags(html)).toEqual([]);
    expect(html).not.toMatch(/<script|<link|@import|url\(|src=["']?https?:/i);
    expect(html).not.toMatch(/href=["']?https?:/i);
  });

  it('escapes every text from the run', () => {
    // Test titles, test-run ids and the origin all carry markup in the fixture.
    expect(html).toContain('cart › &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('search › finds &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot; items');
    expect(html).toContain('worker-1:&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('from snapshot &lt;pool&gt;');
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<b>bold</b>');
  });

  it('has the three charts and the trend', () => {
    expect(html.match(/<svg /g)).toHaveLength(4);
    for (const label of ['Leases per container over time', 'Utilisation over time per container', 'Allocation wait by priority', 'Test durations against their timeouts']) {
      expect(html).toContain(`aria-label="${label}"`);
    }
  });

  it('has the headline figures and the recommendations table', () => {
    expect(html).toMatch(/<div class="label">Allocation wait<\/div><div class="value">p95 30.1 s<\/div>/);
    for (const r of analytics.optimizationRecommendations) {
      expect(html).toContain(`<span class="badge ${r.severity}">${r.severity}</span>`);
      expect(html).toContain(r.suggestedAction.replace(/'/g, '&#39;'));
    }
  });

  it('lists health and failure events with their detail', () => {
    expect(html).toContain('container-unhealthy');
    expect(html).toContain('reason=exited with code 137');
    expect(html).toContain('code=ALLOCATION_TIMEOUT');
  });

  it('explains an empty durations chart instead of drawing nothing', () => {
    const bare = renderHtmlReport({ analytics });
    expect(bare).toContain('No per-test results reached this page');
    expect(bare).toContain('No health or allocation failures were recorded');
    expect(unbalancedTags(bare)).toEqual([]);
  });
});

describe('charts', () => {
  const analytics = fixtureAnalytics();

  it('draws one bar per lease, with a tooltip naming the holder', () => {
    const svg = leaseTimelineChart({ allocations: analytics.allocations, containers: ['cinnamon-qa-mcp-1', 'cinnamon-qa-mcp-2'], startedAt: analytics.startedAt, endedAt: analytics.generatedAt });
    expect(svg.match(/<rect [^>]*><title>/g)).toHaveLength(analytics.allocations.length);
    expect(svg).toContain('<title>worker-0:checkout (critical) on cinnamon-qa-mcp-1');
    expect(svg).toContain('lease expired');
    expect(unbalancedTags(svg)).toEqual([]);
  });

  it('draws p50 and p95 bars for each priority', () => {
    const svg = waitByPriorityChart(analytics.resourceMetrics.allocationPatterns.byPriority);
    expect(svg.match(/<title>(critical|high|normal|low) p(50|95):/g)).toHaveLength(8);
    expect(svg).toContain('<title>normal p95: 30.1 s (3 allocations, average 10.1 s)</title>');
  });

  it('sorts tests by the share of their timeout, caps the rows and counts tests without a timeout', () => {
    const many: TestTiming[] = Array.from({ length: MAX_DURATION_ROWS + 5 }, (_, i) => ({
      id: `t${i}`,
      title: `test ${i}`,
      project: '',
      location: 'a.spec.ts:1',
      retry: 0,
      status: 'passed',
      durationMs: i * 100,
      timeoutMs: 10_000,
    }));
    many.push({ id: 'none', title: 'no timeout', project: '', location: 'a.spec.ts:2', retry: 0, status: 'passed', durationMs: 5, timeoutMs: 0 });
    const chart = durationsVsTimeoutsChart(many);
    expect(chart.shown).toBe(MAX_DURATION_ROWS);
    expect(chart.withoutLimit).toBe(1);
    expect(chart.svg.indexOf('test 34')).toBeLessThan(chart.svg.indexOf('test 33'));
    expect(chart.svg).not.toContain('>test 0<');
  });

  it('marks the pool budget when a test was extended past it', () => {
    const { svg } = durationsVsTimeoutsChart(fixtureTests());
    expect(svg).toContain('pool budget at start 30.0 s');
    expect(svg).toContain('1 extension granted');
    expect(svg).toContain('stroke-dasharray="3 2"');
  });

  it('leaves the budget out of the legend and tooltips when no test ran past it', () => {
    const tests = fixtureTests().map((t) => ({ ...t, budgetMs: t.timeoutMs }));
    const { svg } = durationsVsTimeoutsChart(tests);
    expect(svg).not.toContain('pool budget at start');
    expect(svg).not.toContain('stroke-dasharray="3 2"');
  });

  it('picks round axis ticks', () => {
    expect(niceTicks(30_100, 4)).toEqual([0, 10_000, 20_000, 30_000, 40_000]);
    expect(niceTicks(0)).toEqual([0]);
    expect(niceTicks(7)).toEqual([0, 2, 4, 6, 8]);
  });
});
