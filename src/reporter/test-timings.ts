import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import type { TestCase, TestResult } from '@playwright/test/reporter';

/**
 * One finished test attempt as the pool report shows it: how long it ran against the time it was given.
 * Durations and timeouts come from Playwright's TestCase/TestResult; the pool.* and timeout.* values from the
 * annotations the `mcpContainer` fixture adds.
 */
export interface TestTiming {
  /** Playwright's test id (stable across retries). */
  id: string;
  /** Title path without the project and file: `describe › test`. */
  title: string;
  project: string;
  /** File relative to the config's rootDir, with line. */
  location: string;
  retry: number;
  status: TestResult['status'];
  durationMs: number;
  /** The test's timeout when it ended (includes granted extensions); 0 = no timeout. */
  timeoutMs: number;
  /** `timeout.budgetMs`: the budget the pool gave the test at its start (adaptive or default). */
  budgetMs?: number;
  /** `timeout.extensions`: extensions granted during the test. */
  extensions?: number;
  priority?: string;
  container?: string;
  waitMs?: number;
}

/**
 * Environment variable naming the file where the reporter appends one TestTiming per finished test. The
 * reporter is the only place that sees every test's result, and the analytics test (in a worker, in the
 * teardown project) needs them for its durations-vs-timeouts chart: workers inherit the runner's environment
 * when they start, and teardown-project workers start after every other test has ended.
 */
export const TEST_TIMINGS_ENV = 'CINNAMON_POOL_TEST_TIMINGS';

export function timingFromResult(test: TestCase, result: TestResult, rootDir: string): TestTiming {
  // result.annotations (Playwright ≥ 1.52) are this attempt's; test.annotations are the last attempt's.
  const annotations = [...(test.annotations ?? []), ...(result.annotations ?? [])];
  const last = (type: string): string | undefined => {
    let value: string | undefined;
    for (const a of annotations) if (a.type === type) value = a.description;
    return value;
  };
  // The last value that is a number: a malformed later annotation does not erase a good earlier one.
  const number = (type: string): number | undefined => {
    let value: number | undefined;
    for (const a of annotations) {
      if (a.type !== type || a.description === undefined || a.description.trim() === '') continue;
      const parsed = Number(a.description);
      if (Number.isFinite(parsed)) value = parsed;
    }
    return value;
  };
  const timing: TestTiming = {
    id: test.id,
    title: titleOf(test),
    project: projectOf(test),
    location: `${relative(rootDir, test.location.file) || test.location.file}:${test.location.line}`,
    retry: result.retry,
    status: result.status,
    durationMs: Math.max(0, Math.round(result.duration)),
    timeoutMs: test.timeout,
  };
  const budgetMs = number('timeout.budgetMs');
  const extensions = number('timeout.extensions');
  const waitMs = number('pool.waitMs');
  const priority = last('pool.priority');
  const container = last('pool.container');
  if (budgetMs !== undefined) timing.budgetMs = budgetMs;
  if (extensions !== undefined) timing.extensions = extensions;
  if (waitMs !== undefined) timing.waitMs = waitMs;
  if (priority) timing.priority = priority;
  if (container) timing.container = container;
  return timing;
}

/** titlePath() is ['', project, file, ...describes, title]: keep the describes and the title. */
function titleOf(test: TestCase): string {
  const path = test.titlePath().filter(Boolean);
  const fileIndex = path.findIndex((part) => test.location.file.endsWith(part));
  return (fileIndex >= 0 ? path.slice(fileIndex + 1) : [test.title]).join(' › ');
}

function projectOf(test: TestCase): string {
  return test.parent.project()?.name ?? '';
}

/** Starts an empty timings file. */
export function resetTimingsFile(file: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, '');
}

/** Appends synchronously: small lines, and the file must be complete when the teardown project starts. */
export function appendTiming(file: string, timing: TestTiming): void {
  appendFileSync(file, `${JSON.stringify(timing)}\n`);
}

/** Reads a timings file; a missing file or a torn last line yields what could be read. */
export function readTimingsFile(file: string | undefined): TestTiming[] {
  if (!file) return [];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: TestTiming[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const value = JSON.parse(line) as TestTiming;
      if (typeof value?.id === 'string' && typeof value.durationMs === 'number') out.push(value);
    } catch {
      // A line cut short by a crash: the rest of the report is still worth showing.
    }
  }
  return out;
}

/**
 * The time a test was allowed in the end: its final timeout (extensions included); the pool's budget when
 * Playwright had no timeout for it. Undefined when neither is known.
 */
export function timeLimit(t: TestTiming): number | undefined {
  if (t.timeoutMs > 0) return t.timeoutMs;
  return t.budgetMs !== undefined && t.budgetMs > 0 ? t.budgetMs : undefined;
}

/** Share of its time limit a test used (0..1, above 1 when it overran); undefined without a limit or a run. */
export function budgetShare(t: TestTiming): number | undefined {
  const limit = timeLimit(t);
  if (limit === undefined || t.status === 'skipped') return undefined;
  return t.durationMs / limit;
}
