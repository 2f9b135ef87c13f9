import { TEST_PRIORITIES, type TestPriority } from '../domain/priority.js';
import type { AllocationRecord, ResourceMetrics, WaitStats } from '../pool/analytics-types.js';
import { formatMs, formatPercent, truncate } from './format.js';
import { escapeHtml } from './html-escape.js';
import { budgetShare, timeLimit, type TestTiming } from './test-timings.js';

/*
 * Charts as plain SVG strings. Each chart carries its own fonts and colours as attributes (no stylesheet), so
 * the same markup works inline in the HTML page and as a standalone image. Tooltips are <title> elements:
 * no script is needed to read exact values.
 */

export const PRIORITY_COLORS: Readonly<Record<TestPriority, string>> = { critical: '#c62828', high: '#e07b00', normal: '#2f6fdb', low: '#8c959f' };
const SERIES_COLORS = ['#2f6fdb', '#1a7f37', '#8250df', '#e07b00', '#c62828', '#0598bc', '#bf3989', '#57606a'];
const FONT = 'system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif';
const INK = '#1f2328';
const MUTED = '#656d76';
const GRID = '#d8dee4';
/** Drawing width for the HTML page; the HTML report shows image attachments narrower (see analytics-entry.ts). */
export const DEFAULT_CHART_WIDTH = 960;

function svg(width: number, height: number, label: string, body: string): string {
  return (
    // Explicit width and height give the image its natural size when shown as an <img> (the HTML report's
    // attachments); max-width lets it shrink inside a narrower page.
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(label)}" ` +
    `font-family="${FONT}" font-size="12" fill="${INK}" style="max-width:100%;height:auto;background:#ffffff">${body}</svg>`
  );
}

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${r(x)}" y="${r(y)}" ${attrs}>${escapeHtml(content)}</text>`;
}

function title(content: string): string {
  return `<title>${escapeHtml(content)}</title>`;
}

/** Rounds coordinates so the markup stays small and diffs stay stable. */
function r(n: number): string {
  return String(Math.round(n * 10) / 10);
}

/** Round tick values covering 0..max: 1, 2 or 5 times a power of ten. */
export function niceTicks(max: number, target = 5): number[] {
  if (!(max > 0)) return [0];
  const raw = max / target;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) ticks.push(Math.round(v * 1e6) / 1e6);
  if (ticks[ticks.length - 1]! < max) ticks.push(ticks[ticks.length - 1]! + step);
  return ticks;
}

/** Ticks for a time axis in ms (whole seconds, 5/10/15/30 s, whole minutes), one per ~75 px of axis at most. */
function timeTicks(spanMs: number, axisPx: number): number[] {
  const maxTicks = Math.max(2, Math.floor(axisPx / 75));
  const steps = [100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000];
  const step = steps.find((s) => spanMs / s <= maxTicks) ?? Math.ceil(spanMs / maxTicks / 3_600_000) * 3_600_000;
  const out: number[] = [];
  for (let v = 0; v <= spanMs; v += step) out.push(v);
  return out;
}

function legend(items: ReadonlyArray<{ label: string; color: string; dashed?: boolean; outline?: boolean }>, x: number, y: number): string {
  let cursor = x;
  return items
    .map((item) => {
      const swatch = item.dashed
        ? `<line x1="${r(cursor)}" y1="${r(y - 4)}" x2="${r(cursor + 16)}" y2="${r(y - 4)}" stroke="${item.color}" stroke-width="2" stroke-dasharray="4 3"/>`
        : item.outline
          ? `<rect x="${r(cursor)}" y="${r(y - 10)}" width="16" height="11" rx="2" fill="#ffffff" stroke="${item.color}" stroke-width="2"/>`
          : `<rect x="${r(cursor)}" y="${r(y - 10)}" width="16" height="11" rx="2" fill="${item.color}"/>`;
      const out = `${swatch}${text(cursor + 22, y, item.label, `fill="${MUTED}"`)}`;
      // No text measuring in a plain string: ~6.3 px per character of 12 px system-ui is close enough for a legend.
      cursor += 22 + item.label.length * 6.3 + 18;
      return out;
    })
    .join('');
}

export interface LeaseTimelineInput {
  allocations: readonly AllocationRecord[];
  /** Containers of the pool, in display order; containers seen only in allocations are added. */
  containers: readonly string[];
  startedAt: number;
  endedAt: number;
  /** @defaultValue DEFAULT_CHART_WIDTH px */
  width?: number;
}

/**
 * Utilisation over time per container: one lane per container, one bar per lease, coloured by the holder's
 * priority. Gaps are idle time; the figure at the end of a lane is that container's leased share of the run.
 */
export function leaseTimelineChart(input: LeaseTimelineInput): string {
  const chartWidth = input.width ?? DEFAULT_CHART_WIDTH;
  const lanes = [...new Set([...input.containers, ...input.allocations.map((a) => a.containerId).filter(Boolean)])];
  const from = input.startedAt;
  const span = Math.max(1, input.endedAt - from);
  const left = 150;
  const right = 70;
  const top = 34;
  const laneH = 26;
  const gap = 10;
  const plotW = chartWidth - left - right;
  const plotH = Math.max(1, lanes.length) * (laneH + gap) - gap;
  const height = top + plotH + 44;
  const x = (at: number) => left + (Math.min(Math.max(at - from, 0), span) / span) * plotW;
  const parts: string[] = [];

  parts.push(legend([...TEST_PRIORITIES.map((p) => ({ label: p, color: PRIORITY_COLORS[p] })), { label: 'lease expired or revoked', color: '#7a1010', outline: true }], left, 16));
  for (const tick of timeTicks(span, plotW)) {
    const tx = x(from + tick);
    parts.push(`<line x1="${r(tx)}" y1="${top - 4}" x2="${r(tx)}" y2="${r(top + plotH + 4)}" stroke="${GRID}"/>`);
    parts.push(text(tx, top + plotH + 20, tick === 0 ? '0' : formatMs(tick), `text-anchor="middle" fill="${MUTED}"`));
  }
  parts.push(text(left + plotW / 2, top + plotH + 38, 'time since the pool started', `text-anchor="middle" fill="${MUTED}"`));
  if (lanes.length === 0) parts.push(text(left + plotW / 2, top + 18, 'no containers recorded', `text-anchor="middle" fill="${MUTED}"`));

  lanes.forEach((lane, i) => {
    const y = top + i * (laneH + gap);
    const leases = input.allocations.filter((a) => a.containerId === lane);
    const busy = leases.reduce((sum, a) => sum + Math.max(0, Math.min(a.releasedAt ?? input.endedAt, input.endedAt) - Math.max(a.allocatedAt, from)), 0);
    parts.push(`<rect x="${left}" y="${r(y)}" width="${r(plotW)}" height="${laneH}" fill="#f6f8fa" rx="3"/>`);
    parts.push(`<g>${title(lane)}${text(left - 10, y + laneH / 2 + 4, truncate(lane, 20), 'text-anchor="end"')}</g>`);
    for (const a of leases) {
      const x1 = x(a.allocatedAt);
      const x2 = x(a.releasedAt ?? input.endedAt);
      const abnormal = a.endedBy === 'expired' || a.endedBy === 'revoked';
      const tip =
        `${a.testRunId} (${a.priority}) on ${lane}\n` +
        `waited ${formatMs(a.waitMs)}, held ${formatMs((a.releasedAt ?? input.endedAt) - a.allocatedAt)}\n` +
        `from ${formatMs(a.allocatedAt - from)} to ${a.releasedAt === null ? 'the end (still held)' : formatMs(a.releasedAt - from)}` +
        (a.endedBy && a.endedBy !== 'released' ? `\nlease ${a.endedBy}` : '');
      const stroke = abnormal ? ` stroke="#7a1010" stroke-width="2"` : ` stroke="#ffffff" stroke-width="1"`;
      parts.push(
        `<rect x="${r(x1)}" y="${r(y + 3)}" width="${r(Math.max(2, x2 - x1))}" height="${laneH - 6}" rx="2" fill="${PRIORITY_COLORS[a.priority] ?? MUTED}"` +
          `${a.releasedAt === null ? ' fill-opacity="0.55"' : ''}${stroke}>${title(tip)}</rect>`,
      );
    }
    parts.push(
      `<g>${title(`${lane}: leased ${formatMs(busy)} of ${formatMs(span)}`)}${text(chartWidth - right + 10, y + laneH / 2 + 4, formatPercent(busy / span), 'font-weight="600"')}</g>`,
    );
  });
  return svg(chartWidth, height, 'Leases per container over time', parts.join(''));
}

/**
 * Leased share of each interval per container (resourceMetrics.utilizationTrend), with the pool's overall
 * share as a dashed line.
 */
export function utilisationTrendChart(trend: ResourceMetrics['utilizationTrend'], startedAt: number, chartWidth = DEFAULT_CHART_WIDTH): string {
  const left = 56;
  const right = 44;
  const top = 34;
  const plotH = 170;
  const plotW = chartWidth - left - right;
  const height = top + plotH + 44;
  const parts: string[] = [];
  const containers = [...new Set(trend.flatMap((p) => Object.keys(p.perContainer)))];
  const end = trend.length ? trend[trend.length - 1]!.at : startedAt + 1;
  const span = Math.max(1, end - startedAt);
  const x = (at: number) => left + ((at - startedAt) / span) * plotW;
  const y = (share: number) => top + plotH - Math.min(1, Math.max(0, share)) * plotH;

  parts.push(
    legend(
      [...containers.map((c, i) => ({ label: truncate(c, 24), color: SERIES_COLORS[i % SERIES_COLORS.length]! })), { label: 'whole pool', color: INK, dashed: true }],
      left,
      16,
    ),
  );
  for (const share of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<line x1="${left}" y1="${r(y(share))}" x2="${left + plotW}" y2="${r(y(share))}" stroke="${GRID}"/>`);
    parts.push(text(left - 8, y(share) + 4, formatPercent(share), `text-anchor="end" fill="${MUTED}"`));
  }
  for (const tick of timeTicks(span, plotW)) parts.push(text(x(startedAt + tick), top + plotH + 20, tick === 0 ? '0' : formatMs(tick), `text-anchor="middle" fill="${MUTED}"`));
  parts.push(text(left + plotW / 2, top + plotH + 38, 'time since the pool started (each point: share of the interval leased)', `text-anchor="middle" fill="${MUTED}"`));
  if (trend.length === 0) {
    parts.push(text(left + plotW / 2, top + plotH / 2, 'no utilisation samples', `text-anchor="middle" fill="${MUTED}"`));
    return svg(chartWidth, height, 'Utilisation over time', parts.join(''));
  }
  // Each sample covers the interval before its `at`: draw steps, not a slope that suggests values in between.
  const width = trend.length > 1 ? trend[1]!.at - trend[0]!.at : span;
  const stepPath = (value: (p: (typeof trend)[number]) => number) =>
    trend.map((p, i) => `${i === 0 ? 'M' : 'L'}${r(x(p.at - width))},${r(y(value(p)))}L${r(x(p.at))},${r(y(value(p)))}`).join('');
  containers.forEach((c, i) => {
    const color = SERIES_COLORS[i % SERIES_COLORS.length]!;
    parts.push(`<path d="${stepPath((p) => p.perContainer[c] ?? 0)}" fill="none" stroke="${color}" stroke-width="2" stroke-opacity="0.85">${title(c)}</path>`);
  });
  parts.push(`<path d="${stepPath((p) => p.utilization)}" fill="none" stroke="${INK}" stroke-width="2" stroke-dasharray="5 4">${title('whole pool')}</path>`);
  for (const p of trend) {
    const detail = Object.entries(p.perContainer)
      .map(([c, v]) => `${c}: ${formatPercent(v)}`)
      .join('\n');
    parts.push(
      `<rect x="${r(x(p.at - width))}" y="${top}" width="${r(Math.max(1, x(p.at) - x(p.at - width)))}" height="${plotH}" fill="transparent">` +
        `${title(`${formatMs(p.at - width - startedAt)} – ${formatMs(p.at - startedAt)}\npool: ${formatPercent(p.utilization)}\n${detail}`)}</rect>`,
    );
  }
  return svg(chartWidth, height, 'Utilisation over time per container', parts.join(''));
}

/** p50 and p95 allocation wait per priority: the two bars side by side, the count under each group. */
export function waitByPriorityChart(byPriority: Readonly<Record<TestPriority, WaitStats>>, chartWidth = DEFAULT_CHART_WIDTH): string {
  const left = 70;
  const right = 20;
  const top = 34;
  const plotH = 180;
  const plotW = chartWidth - left - right;
  const height = top + plotH + 48;
  const max = Math.max(0, ...TEST_PRIORITIES.map((p) => byPriority[p]?.p95WaitMs ?? 0));
  const ticks = niceTicks(max || 1000, 4);
  const scaleMax = ticks[ticks.length - 1]!;
  const y = (v: number) => top + plotH - (v / scaleMax) * plotH;
  const group = plotW / TEST_PRIORITIES.length;
  const barW = Math.min(56, group / 3);
  const parts: string[] = [];
  parts.push(legend([{ label: 'p50 (median), lighter', color: '#b9c0c8' }, { label: 'p95, darker', color: '#57606a' }], left, 16));
  for (const t of ticks) {
    parts.push(`<line x1="${left}" y1="${r(y(t))}" x2="${left + plotW}" y2="${r(y(t))}" stroke="${GRID}"/>`);
    parts.push(text(left - 8, y(t) + 4, t === 0 ? '0' : formatMs(t), `text-anchor="end" fill="${MUTED}"`));
  }
  TEST_PRIORITIES.forEach((p, i) => {
    const stats = byPriority[p] ?? { count: 0, averageWaitMs: 0, p50WaitMs: 0, p95WaitMs: 0 };
    const cx = left + group * i + group / 2;
    // The priority's own colour, light for p50 and full for p95: the same colours as the lease timeline.
    const bars: Array<[string, number, number]> = [
      ['p50', stats.p50WaitMs, 0.4],
      ['p95', stats.p95WaitMs, 1],
    ];
    bars.forEach(([name, value, opacity], j) => {
      const bx = cx - barW - 2 + j * (barW + 4);
      const by = y(value);
      parts.push(
        `<rect x="${r(bx)}" y="${r(by)}" width="${r(barW)}" height="${r(Math.max(value > 0 ? 1 : 0, top + plotH - by))}" fill="${PRIORITY_COLORS[p]}" fill-opacity="${opacity}" rx="2">` +
          `${title(`${p} ${name}: ${formatMs(value)} (${stats.count} allocations, average ${formatMs(stats.averageWaitMs)})`)}</rect>`,
      );
      if (stats.count > 0) parts.push(text(bx + barW / 2, by - 5, formatMs(value), `text-anchor="middle" font-size="11"`));
    });
    parts.push(text(cx, top + plotH + 20, p, `text-anchor="middle" font-weight="600" fill="${PRIORITY_COLORS[p]}"`));
    parts.push(text(cx, top + plotH + 37, stats.count ? `${stats.count} allocation${stats.count === 1 ? '' : 's'}` : 'none', `text-anchor="middle" fill="${MUTED}"`));
  });
  return svg(chartWidth, height, 'Allocation wait by priority', parts.join(''));
}

/** Rows shown in the durations chart; the rest are summarised in a line below it. */
export const MAX_DURATION_ROWS = 30;

/**
 * Each test's execution time against the time it was allowed, tests closest to their limit first. Bars are
 * scaled per test (share of its own limit) so a 2 s test and a 2 min test can be compared; the limit, the
 * pool's budget and the duration are in the label and the tooltip.
 */
export function durationsVsTimeoutsChart(tests: readonly TestTiming[], chartWidth = DEFAULT_CHART_WIDTH): { svg: string; shown: number; withoutLimit: number } {
  const measured = tests
    .map((t) => ({ t, share: budgetShare(t), limit: timeLimit(t) }))
    .filter((x): x is { t: TestTiming; share: number; limit: number } => x.share !== undefined && x.limit !== undefined);
  const withoutLimit = tests.filter((t) => t.status !== 'skipped').length - measured.length;
  const rows = measured.sort((a, b) => b.share - a.share || b.t.durationMs - a.t.durationMs).slice(0, MAX_DURATION_ROWS);
  const left = 330;
  const right = 170;
  const top = 34;
  const rowH = 22;
  const plotW = chartWidth - left - right;
  const height = top + Math.max(1, rows.length) * rowH + 40;
  // Overruns (a test that ran past its limit) get a little room past 100 %.
  const maxShare = Math.min(1.5, Math.max(1, ...rows.map((x) => x.share)));
  const x = (share: number) => left + (Math.min(share, maxShare) / maxShare) * plotW;
  // The dashed budget mark is drawn only where the budget differs from the final limit (an extension);
  // without such a row the legend must not promise a mark the reader cannot find.
  const budgetMarked = (t: TestTiming, limit: number) => t.budgetMs !== undefined && t.budgetMs > 0 && t.budgetMs !== limit;
  const parts: string[] = [];
  parts.push(
    legend(
      [
        { label: 'under 50 %', color: '#2da44e' },
        { label: '50–80 %', color: '#d4a72c' },
        { label: 'over 80 % or timed out', color: '#c62828' },
        ...(rows.some(({ t, limit }) => budgetMarked(t, limit)) ? [{ label: 'pool budget at start', color: INK, dashed: true }] : []),
      ],
      left,
      16,
    ),
  );
  for (const share of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<line x1="${r(x(share))}" y1="${top - 4}" x2="${r(x(share))}" y2="${r(top + rows.length * rowH)}" stroke="${share === 1 ? '#8c959f' : GRID}"${share === 1 ? ' stroke-width="1.5"' : ''}/>`);
    parts.push(text(x(share), top + Math.max(1, rows.length) * rowH + 16, share === 1 ? 'timeout' : formatPercent(share), `text-anchor="middle" fill="${MUTED}"`));
  }
  if (rows.length === 0) parts.push(text(left + plotW / 2, top + 16, 'no finished tests with a timeout', `text-anchor="middle" fill="${MUTED}"`));
  rows.forEach(({ t, share, limit }, i) => {
    const y = top + i * rowH;
    const color = t.status === 'timedOut' || share >= 0.8 ? '#c62828' : share >= 0.5 ? '#d4a72c' : '#2da44e';
    const label = `${t.title}${t.retry ? ` (retry ${t.retry})` : ''}`;
    const tip =
      `${label}\n${t.project ? `project ${t.project} · ` : ''}${t.location}\n` +
      `ran ${formatMs(t.durationMs)} of ${formatMs(limit)} (${formatPercent(share)}), ${t.status}` +
      (budgetMarked(t, limit) ? `\npool budget at start ${formatMs(t.budgetMs!)}` : '') +
      (t.extensions ? `\n${t.extensions} extension${t.extensions === 1 ? '' : 's'} granted` : '') +
      (t.priority ? `\npriority ${t.priority}` : '') +
      (t.container ? ` · container ${t.container}` : '');
    parts.push(`<g>${title(tip)}`);
    parts.push(`<rect x="${left}" y="${r(y + 4)}" width="${r(plotW)}" height="${rowH - 8}" fill="#f6f8fa" rx="2"/>`);
    parts.push(`<rect x="${left}" y="${r(y + 4)}" width="${r(Math.max(1, x(share) - left))}" height="${rowH - 8}" fill="${color}" rx="2"/>`);
    if (budgetMarked(t, limit)) {
      const bx = x(t.budgetMs! / limit);
      parts.push(`<line x1="${r(bx)}" y1="${r(y + 1)}" x2="${r(bx)}" y2="${r(y + rowH - 1)}" stroke="${INK}" stroke-width="2" stroke-dasharray="3 2"/>`);
    }
    parts.push(text(left - 10, y + rowH / 2 + 4, truncate(label, 48), 'text-anchor="end"'));
    const extension = t.extensions ? ` +${t.extensions} ext` : '';
    parts.push(text(chartWidth - right + 10, y + rowH / 2 + 4, `${formatMs(t.durationMs)} / ${formatMs(limit)}${extension}`, `fill="${MUTED}"`));
    parts.push('</g>');
  });
  return { svg: svg(chartWidth, height, 'Test durations against their timeouts', parts.join('')), shown: rows.length, withoutLimit: Math.max(0, withoutLimit) };
}
