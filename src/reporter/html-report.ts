import type { OptimizationRecommendation, SystemAnalytics } from '../pool/analytics-types.js';
import { asPoolAuditEvents, type AuditEventType } from '../pool/audit-events.js';
import type { AuditEvent } from '../store/pool-store.js';
import { formatCount, formatMs, formatPercent, formatTimestamp } from './format.js';
import { headlineFigures } from './headline.js';
import { escapeHtml as e } from './html-escape.js';
import { durationsVsTimeoutsChart, leaseTimelineChart, PRIORITY_COLORS, utilisationTrendChart, waitByPriorityChart } from './svg-charts.js';
import { budgetShare, timeLimit, type TestTiming } from './test-timings.js';

export interface HtmlReportInput {
  analytics: SystemAnalytics;
  audit?: readonly AuditEvent[];
  tests?: readonly TestTiming[];
  /** Where the analytics came from, shown under the title. */
  origin?: string;
}

/** Audit event types a person looks for when a run went wrong. */
const HEALTH_EVENT_TYPES: ReadonlySet<string> = new Set<AuditEventType>([
  'container-unhealthy',
  'container-quarantined',
  'lease-expired',
  'lease-revoked',
  'allocation-failed',
  'memory-threshold-exceeded',
  'zombie-processes',
  'sessions-left-open',
  'degradation-started',
  'degradation-ended',
]);
const MAX_EVENT_ROWS = 200;

/**
 * The analytics page: one self-contained file (inline CSS and SVG, no script, no external resource), so it
 * opens from disk, from a CI artifact and as an attachment in Playwright's HTML report alike.
 */
export function renderHtmlReport(input: HtmlReportInput): string {
  const { analytics: a } = input;
  const tests = input.tests ?? [];
  const endedAt = a.generatedAt;
  const containers = Object.keys(a.resourceMetrics.utilizationTrend[0]?.perContainer ?? {});
  const durations = durationsVsTimeoutsChart(tests);

  const sections = [
    `<header>
  <h1>Container pool analytics</h1>
  <p class="meta">${a.runGroup !== undefined ? `Run group ${e(a.runGroup)} · p` : 'P'}ool started ${e(formatTimestamp(a.startedAt))} · analytics taken ${e(
    formatMs(a.generatedAt - a.startedAt),
  )} later${input.origin ? ` · from ${e(input.origin)}` : ''}</p>
</header>`,
    cards(a),
    recommendations(a.optimizationRecommendations),
    `<section>
  <h2>Utilisation over time per container</h2>
  <p class="hint">Each bar is one lease, coloured by the priority of the test run that held it; gaps are idle time. Hover a bar for the holder, its wait and how long it held the container.</p>
  <figure>${leaseTimelineChart({ allocations: a.allocations, containers, startedAt: a.startedAt, endedAt })}</figure>
  <figure>${utilisationTrendChart(a.resourceMetrics.utilizationTrend, a.startedAt)}</figure>
</section>`,
    `<section>
  <h2>Allocation wait by priority</h2>
  <p class="hint">Time from asking for a container to getting one. Higher priorities should wait less; a long p95 for every priority means the pool is too small for the number of workers.</p>
  <figure>${waitByPriorityChart(a.resourceMetrics.allocationPatterns.byPriority)}</figure>
</section>`,
    `<section>
  <h2>Test durations vs timeouts</h2>
  <p class="hint">How much of its timeout each test used (timeout at the end of the test, extensions included). ${
    durations.shown < tests.length ? `Showing the ${durations.shown} tests closest to their timeout (of ${tests.length} test runs). ` : ''
  }${durations.withoutLimit > 0 ? `${durations.withoutLimit} test run(s) had no timeout and are not shown. ` : ''}Adaptive suggestion for the suite: <strong>${e(
    formatMs(a.timeoutMetrics.adaptiveRecommendation.timeoutMs),
  )}</strong> (${e(a.timeoutMetrics.adaptiveRecommendation.source)}).</p>
  ${tests.length ? `<figure>${durations.svg}</figure>` : '<p class="empty">No per-test results reached this page (the pool reporter records them while tests run).</p>'}
</section>`,
    healthEvents(a, input.audit),
    allocationsTable(a),
    testsTable(tests),
    `<footer>Raw data: <code>pool-analytics.json</code> (this page's numbers) and <code>pool-audit.jsonl</code> (every audit event, one per line).</footer>`,
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Container pool analytics</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${sections.join('\n')}
</main>
</body>
</html>
`;
}

function cards(a: SystemAnalytics): string {
  return `<section class="cards">${headlineFigures(a)
    .map((f) => `<div class="card ${f.tone}"><div class="label">${e(f.label)}</div><div class="value">${e(f.value)}</div><div class="detail">${e(f.detail)}</div></div>`)
    .join('')}</section>`;
}

function recommendations(recs: readonly OptimizationRecommendation[]): string {
  if (recs.length === 0) return `<section><h2>Recommendations</h2><p class="empty good">None: the pool fitted this run.</p></section>`;
  const rows = recs
    .map(
      (r) =>
        `<tr><td><span class="badge ${e(r.severity)}">${e(r.severity)}</span></td><td><strong>${e(r.title)}</strong><div class="sub">${e(r.description)}</div></td><td>${e(
          r.suggestedAction,
        )}</td></tr>`,
    )
    .join('');
  return `<section><h2>Recommendations</h2><table class="recs"><thead><tr><th>Severity</th><th>Finding</th><th>Action</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function healthEvents(a: SystemAnalytics, audit: readonly AuditEvent[] | undefined): string {
  const h = a.health;
  const summary = `<p class="hint">${h.unhealthy} unhealthy · ${h.recovered} recovered · ${formatCount(h.leasesRevoked, 'lease')} revoked · ${formatCount(h.leasesExpired, 'lease')} expired · quarantined: ${
    h.quarantined.length ? e(h.quarantined.join(', ')) : 'none'
  } · cleanup ${e(formatMs(a.resourceMetrics.performanceMetrics.averageCleanupMs))} on average, ${a.resourceMetrics.performanceMetrics.cleanupFailures} failed.</p>`;
  const events = asPoolAuditEvents(audit ?? []).filter((ev) => HEALTH_EVENT_TYPES.has(ev.type) || (ev.type === 'reset' && ev.actor === 'coordinator') || (ev.type === 'cleanup' && ev.outcome === 'failed'));
  if (events.length === 0) return `<section><h2>Health and failures</h2>${summary}<p class="empty good">No health or allocation failures were recorded.</p></section>`;
  const rows = events
    .slice(-MAX_EVENT_ROWS)
    .map(
      (ev) =>
        `<tr class="${e(ev.outcome)}"><td class="num">${e(formatMs(ev.at - a.startedAt))}</td><td class="nowrap">${e(ev.type)}</td><td class="nowrap">${e(ev.containerId ?? '')}</td><td>${e(ev.actor)}</td><td>${e(
          ev.outcome,
        )}</td><td class="detail">${e(describeDetail(ev.detail))}</td></tr>`,
    )
    .join('');
  const more = events.length > MAX_EVENT_ROWS ? `<p class="hint">The last ${MAX_EVENT_ROWS} of ${events.length} events; all are in pool-audit.jsonl.</p>` : '';
  return `<section><h2>Health and failures</h2>${summary}<table><thead><tr><th>At</th><th>Event</th><th>Container</th><th>By</th><th>Outcome</th><th>Detail</th></tr></thead><tbody>${rows}</tbody></table>${more}</section>`;
}

/** The fields of an audit detail that explain an event, as `key=value`, short. */
function describeDetail(detail: Record<string, unknown> | undefined): string {
  if (!detail) return '';
  return Object.entries(detail)
    .filter(([k, v]) => v !== undefined && v !== null && k !== 'token' && typeof v !== 'object')
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' · ')
    .slice(0, 300);
}

function allocationsTable(a: SystemAnalytics): string {
  if (a.allocations.length === 0) return '';
  const rows = a.allocations
    .map(
      (x) =>
        `<tr><td>${e(x.testRunId)}</td><td><span class="dot" style="background:${PRIORITY_COLORS[x.priority] ?? '#888'}"></span>${e(x.priority)}</td><td class="nowrap">${e(x.containerId)}</td>` +
        `<td class="num">${e(formatMs(x.allocatedAt - a.startedAt))}</td><td class="num">${e(formatMs(x.waitMs))}</td>` +
        `<td class="num">${x.releasedAt === null ? 'held' : e(formatMs(x.releasedAt - x.allocatedAt))}</td><td>${e(x.endedBy ?? 'active')}</td></tr>`,
    )
    .join('');
  return `<details><summary>All allocations (${a.allocations.length})</summary><table><thead><tr><th>Test run</th><th>Priority</th><th>Container</th><th>Granted at</th><th>Waited</th><th>Held</th><th>Ended by</th></tr></thead><tbody>${rows}</tbody></table></details>`;
}

function testsTable(tests: readonly TestTiming[]): string {
  if (tests.length === 0) return '';
  const rows = [...tests]
    .sort((x, y) => (budgetShare(y) ?? -1) - (budgetShare(x) ?? -1))
    .map((t) => {
      const limit = timeLimit(t);
      const share = budgetShare(t);
      return (
        `<tr class="${e(t.status)}"><td>${e(t.title)}${t.retry ? ` <span class="sub">(retry ${t.retry})</span>` : ''}<div class="sub">${e(t.project ? `${t.project} · ` : '')}${e(t.location)}</div></td>` +
        `<td>${e(t.status)}</td><td>${e(t.priority ?? '')}</td><td class="nowrap">${e(t.container ?? '')}</td><td class="num">${e(formatMs(t.durationMs))}</td>` +
        `<td class="num">${limit === undefined ? 'none' : e(formatMs(limit))}</td><td class="num">${t.budgetMs === undefined ? '' : e(formatMs(t.budgetMs))}</td>` +
        `<td class="num">${t.extensions ?? ''}</td><td class="num">${share === undefined ? '' : e(formatPercent(share))}</td></tr>`
      );
    })
    .join('');
  return `<details><summary>All test runs (${tests.length})</summary><table><thead><tr><th>Test</th><th>Status</th><th>Priority</th><th>Container</th><th>Duration</th><th>Timeout</th><th>Pool budget</th><th>Extensions</th><th>Used</th></tr></thead><tbody>${rows}</tbody></table></details>`;
}

const STYLE = `
:root { color-scheme: light; --ink: #1f2328; --muted: #656d76; --line: #d8dee4; --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: var(--ink); font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 24px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 6px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.meta, .hint, .sub, footer { color: var(--muted); }
.hint { margin: 4px 0 10px; max-width: 820px; }
.sub { font-size: 12.5px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 10px; margin-top: 18px; }
.card { border: 1px solid var(--line); border-left: 4px solid var(--line); border-radius: 6px; padding: 10px 12px; background: #fff; }
.card.good { border-left-color: #2da44e; } .card.warn { border-left-color: #d4a72c; } .card.bad { border-left-color: #c62828; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 22px; font-weight: 650; margin: 2px 0; font-variant-numeric: tabular-nums; }
.card .detail { color: var(--muted); font-size: 12.5px; }
figure { margin: 8px 0 14px; padding: 12px; border: 1px solid var(--line); border-radius: 6px; overflow-x: auto; }
table { width: 100%; border-collapse: collapse; margin: 6px 0; font-size: 13px; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--line); }
th { background: var(--soft); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.nowrap { white-space: nowrap; }
td.detail { color: var(--muted); font-size: 12.5px; word-break: break-word; }
tr.failed td:nth-child(5), tr.refused td:nth-child(5), tr.timedOut td:nth-child(2), tr.failed td:nth-child(2) { color: #c62828; font-weight: 600; }
.recs td:first-child { width: 90px; } .recs td:last-child { width: 38%; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; text-transform: uppercase; }
.badge.critical { background: #c62828; } .badge.warning { background: #b07d00; } .badge.info { background: #0969da; }
.dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 6px; }
.empty { color: var(--muted); font-style: italic; } .empty.good { color: #1a7f37; font-style: normal; }
details { margin: 14px 0; } summary { cursor: pointer; font-weight: 600; padding: 6px 0; }
code { background: var(--soft); padding: 1px 5px; border-radius: 4px; font-size: 12.5px; }
footer { margin-top: 32px; font-size: 12.5px; }
`;
