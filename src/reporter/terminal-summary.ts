import { TEST_PRIORITIES } from '../domain/priority.js';
import type { OptimizationRecommendation, SystemAnalytics } from '../pool/analytics-types.js';
import { formatCount, formatMs, formatPercent, truncate } from './format.js';
import { severityLabel } from './headline.js';
import { budgetShare, timeLimit, type TestTiming } from './test-timings.js';

export interface TerminalSummaryInput {
  analytics: SystemAnalytics;
  tests?: readonly TestTiming[];
  /** Where the analytics came from, shown in the heading. */
  origin?: string;
  /** Report files written, shown last. */
  files?: readonly string[];
  /** ANSI colours; only for a terminal (see useColor). */
  color: boolean;
  /** Columns to wrap long texts at. @defaultValue 100 */
  width?: number;
}

/** Budget share above which a test is reported as close to its timeout. */
const NEAR_TIMEOUT_SHARE = 0.8;
const LABEL_WIDTH = 12;

/**
 * The end-of-run summary: plain text that reads in a log file, with colour only as emphasis when the output
 * is a terminal.
 */
export function renderTerminalSummary(input: TerminalSummaryInput): string {
  const { analytics: a } = input;
  const s = styles(input.color);
  const width = Math.max(60, Math.min(input.width ?? 100, 140));
  const perf = a.resourceMetrics.performanceMetrics;
  const pm = a.poolMetrics;
  const t = a.timeoutMetrics;
  const h = a.health;
  const lines: string[] = [];
  const row = (label: string, text: string) => lines.push(...wrap(text, width - LABEL_WIDTH - 2).map((part, i) => `  ${(i === 0 ? s.bold(label.padEnd(LABEL_WIDTH)) : ' '.repeat(LABEL_WIDTH))}${part}`));

  lines.push('');
  lines.push(`${s.bold('Container pool analytics')}${a.runGroup !== undefined ? ` · run group ${a.runGroup}` : ''}${input.origin ? s.dim(`  (from ${input.origin})`) : ''}`);
  row('Pool', `${formatCount(pm.totalContainers, 'container')} · utilisation ${formatPercent(perf.resourceEfficiency)} · run ${formatMs(a.generatedAt - a.startedAt)}` + (a.degradation.active ? ` · ${s.yellow('degraded')}` : ''));
  row('', `${formatCount(pm.totalAllocations, 'allocation')} (${pm.failedAllocations > 0 ? s.red(`${pm.failedAllocations} failed`) : '0 failed'}) · ${formatCount(pm.totalReleases, 'release')} · ${perf.throughputPerMinute} per minute · queue at end ${pm.queueSize}`);
  row('', `cleanup ${formatMs(perf.averageCleanupMs)} on average (${perf.cleanupFailures} failed) · ${formatCount(perf.resets, 'reset')}`);

  lines.push('');
  lines.push(`  ${s.bold('Allocation wait by priority')}`);
  lines.push(s.dim(`  ${'priority'.padEnd(LABEL_WIDTH)}${'count'.padStart(6)}${'p50'.padStart(11)}${'p95'.padStart(11)}${'average'.padStart(11)}`));
  for (const p of TEST_PRIORITIES) {
    const w = a.resourceMetrics.allocationPatterns.byPriority[p];
    if (!w) continue;
    const cells = w.count
      ? `${String(w.count).padStart(6)}${formatMs(w.p50WaitMs).padStart(11)}${formatMs(w.p95WaitMs).padStart(11)}${formatMs(w.averageWaitMs).padStart(11)}`
      : `${'0'.padStart(6)}${'–'.padStart(11)}${'–'.padStart(11)}${'–'.padStart(11)}`;
    lines.push(`  ${p.padEnd(LABEL_WIDTH)}${w.count ? cells : s.dim(cells)}`);
  }

  lines.push('');
  row('Timeouts', `execution ${formatMs(t.averageExecutionTime)} on average · p95 ${formatMs(t.p95ExecutionTime)} (${formatCount(t.samples, 'sample')})`);
  row(
    '',
    `recommended timeout ${s.bold(formatMs(t.adaptiveRecommendation.timeoutMs))} (${t.adaptiveRecommendation.source === 'adaptive' ? 'adaptive: max(p95 × 1.5, average × 2)' : 'the default: too few samples for adaptive'})`,
  );
  row('Extensions', `${t.extensionsGranted} granted · ${t.extensionsDenied > 0 ? s.yellow(`${t.extensionsDenied} denied`) : '0 denied'}`);
  const healthText = [
    paint(h.unhealthy, `${h.unhealthy} unhealthy`, s.red),
    `${h.recovered} recovered`,
    paint(h.leasesRevoked, `${formatCount(h.leasesRevoked, 'lease')} revoked`, s.red),
    paint(h.leasesExpired, `${h.leasesExpired} expired`, s.yellow),
    `quarantined: ${h.quarantined.length ? s.red(h.quarantined.join(', ')) : 'none'}`,
  ].join(' · ');
  row('Health', healthText);
  const testsLine = nearTimeoutLine(input.tests ?? [], s);
  if (testsLine) row('Tests', testsLine);

  lines.push('');
  const recs = a.optimizationRecommendations;
  if (recs.length === 0) {
    lines.push(`  ${s.bold('Recommendations')}  ${s.green('none: the pool fitted this run')}`);
  } else {
    lines.push(`  ${s.bold(`Recommendations (${recs.length})`)}`);
    for (const r of recs) lines.push(...recommendationLines(r, s, width));
  }
  if (input.files?.length) {
    lines.push('');
    input.files.forEach((file, i) => row(i === 0 ? 'Report' : '', file));
  }
  lines.push('');
  return lines.join('\n');
}

function recommendationLines(r: OptimizationRecommendation, s: Styles, width: number): string[] {
  const colour = r.severity === 'critical' ? s.red : r.severity === 'warning' ? s.yellow : s.cyan;
  const indent = ' '.repeat(LABEL_WIDTH + 2);
  const out = [`  ${colour(severityLabel(r.severity).padEnd(LABEL_WIDTH))}${s.bold(r.title)}`];
  for (const part of wrap(r.description, width - indent.length)) out.push(`${indent}${part}`);
  const action = wrap(r.suggestedAction, width - indent.length - 2);
  action.forEach((part, i) => out.push(`${indent}${i === 0 ? '→ ' : '  '}${part}`));
  return out;
}

function nearTimeoutLine(tests: readonly TestTiming[], s: Styles): string | undefined {
  const measured = tests.map((t) => ({ t, share: budgetShare(t) })).filter((x): x is { t: TestTiming; share: number } => x.share !== undefined);
  if (measured.length === 0) return undefined;
  const near = measured.filter((x) => x.share >= NEAR_TIMEOUT_SHARE || x.t.status === 'timedOut');
  const top = [...measured].sort((x, y) => y.share - x.share)[0]!;
  const closest = `closest: "${truncate(top.t.title, 50)}" ${formatPercent(top.share)} of ${formatMs(timeLimit(top.t) ?? 0)}`;
  const summary = `${near.length} of ${measured.length} used over ${formatPercent(NEAR_TIMEOUT_SHARE)} of their timeout`;
  return `${near.length ? s.yellow(summary) : summary} · ${closest}`;
}

function paint(count: number, text: string, colour: (t: string) => string): string {
  return count > 0 ? colour(text) : text;
}

/**
 * Greedy word wrap; a word longer than the line stays whole rather than being cut mid-identifier. A unit
 * (`%`, `ms`, `s`, …) stays on the line of its number: `41 %`, never `41` / `% of …`.
 */
export function wrap(text: string, width: number): string[] {
  const words: string[] = [];
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const previous = words[words.length - 1];
    if (previous !== undefined && UNIT.test(stripAnsi(word)) && /\d$/.test(stripAnsi(previous))) words[words.length - 1] = `${previous} ${word}`;
    else words.push(word);
  }
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line && visibleLength(line) + 1 + visibleLength(word) > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line || lines.length === 0) lines.push(line);
  return lines;
}

/** A unit as format.ts writes it after a number (`41 %`, `3.94 s`), possibly followed by punctuation. */
const UNIT = /^(%|ms|s|m|h)[.,;:)]*$/;

function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}

function visibleLength(text: string): number {
  return stripAnsi(text).length;
}

interface Styles {
  bold(t: string): string;
  dim(t: string): string;
  red(t: string): string;
  yellow(t: string): string;
  green(t: string): string;
  cyan(t: string): string;
}

function styles(color: boolean): Styles {
  const sgr = (open: number, close: number) => (t: string) => (color ? `\u001b[${open}m${t}\u001b[${close}m` : t);
  return { bold: sgr(1, 22), dim: sgr(2, 22), red: sgr(31, 39), yellow: sgr(33, 39), green: sgr(32, 39), cyan: sgr(36, 39) };
}

/**
 * Colour only for a terminal, following the usual conventions: NO_COLOR and FORCE_COLOR=0 turn it off,
 * FORCE_COLOR turns it on (CI logs that render ANSI).
 */
export function useColor(stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR === '0' || env.FORCE_COLOR === 'false') return false;
  if (env.FORCE_COLOR !== undefined) return true;
  return stream.isTTY === true;
}
