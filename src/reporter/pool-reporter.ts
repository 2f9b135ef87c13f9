import { readFileSync, rmSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import type { FullConfig, FullResult, Reporter, Suite, TestCase, TestResult } from '@playwright/test/reporter';
import { ANALYTICS_PROJECT_NAME } from './analytics-project.js';
import { parseAuditEvents, parseSystemAnalytics } from './analytics-schema.js';
import { ANALYTICS_SNAPSHOT_ENV } from './analytics-snapshot.js';
import { type AnalyticsSource, CapturedSource, coordinatorSourceFromEnv, loadFirstAvailable, snapshotFileSource, type SourceAttempt } from './analytics-source.js';
import { HookGuard } from './hook-guard.js';
import { revocationAdvice, tallyRevocation, type RevocationTally } from './revocation-advice.js';
import { DEFAULT_POOL_REPORT_DIR, parsePoolReporterOptions, type PoolReporterOptions } from './reporter-options.js';
import { renderTerminalSummary, useColor } from './terminal-summary.js';
import { appendTiming, resetTimingsFile, TEST_TIMINGS_ENV, timingFromResult, type TestTiming } from './test-timings.js';
import { ANALYTICS_JSON_FILE, AUDIT_JSONL_FILE, writeReportFiles } from './write-files.js';

/** Files in outputDir that only live during the run (hand-over to the teardown and the analytics test). */
const SNAPSHOT_FILE = '.pool-snapshot.json';
const TIMINGS_FILE = '.pool-test-timings.jsonl';
const SNAPSHOT_ORIGIN = 'snapshot ';

/** Seams for tests; Playwright constructs the reporter with its options only. */
export interface PoolReporterDeps {
  /** Replaces the default sources (snapshot file, live coordinator, analytics test). */
  sources?: AnalyticsSource[];
  stdout?: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  stderr?: { write(text: string): unknown };
  env?: NodeJS.ProcessEnv;
  now?: () => number;
}

/**
 * The pool's reporter: at the end of the run, a terminal summary and pool-analytics.json,
 * pool-audit.jsonl and pool-analytics.html in outputDir.
 *
 * Where the analytics come from at onEnd, in order:
 * 1. the snapshot file globalSetup's teardown writes (with `playwright test` the coordinator is already stopped
 *    when onEnd runs: Playwright runs global teardown first);
 * 2. the live coordinator (UI and watch mode call onEnd before global teardown);
 * 3. the attachments of the "Container pool analytics" test (teardown project), picked up in onTestEnd.
 */
export class PoolAnalyticsReporter implements Reporter {
  private readonly guard: HookGuard;
  private readonly env: NodeJS.ProcessEnv;
  private readonly stdout: NonNullable<PoolReporterDeps['stdout']>;
  private readonly now: () => number;
  private readonly captured = new CapturedSource();
  private readonly customSources: AnalyticsSource[] | undefined;
  private options: PoolReporterOptions = { outputDir: DEFAULT_POOL_REPORT_DIR, open: 'never' };
  private outputDir: string;
  private rootDir = process.cwd();
  private listMode = false;
  private beganAt = 0;
  private snapshotFile: string | undefined;
  private timingsFile: string | undefined;
  private readonly tests: TestTiming[] = [];
  /** Attempts whose member was revoked under them (host-lost, failover), from the fixture's annotation. */
  private readonly revoked: RevocationTally = new Map();
  /** The highest `retries` of the run's projects. */
  private retries = 0;

  constructor(rawOptions: unknown = {}, deps: PoolReporterDeps = {}) {
    const stderr = deps.stderr ?? process.stderr;
    this.guard = new HookGuard((text) => stderr.write(text));
    this.env = deps.env ?? process.env;
    this.stdout = deps.stdout ?? process.stdout;
    this.now = deps.now ?? Date.now;
    this.customSources = deps.sources;
    const configDir = typeof (rawOptions as { configDir?: unknown })?.configDir === 'string' ? (rawOptions as { configDir: string }).configDir : process.cwd();
    this.listMode = (rawOptions as { _mode?: unknown })?._mode === 'list';
    this.guard.run('options', () => {
      this.options = parsePoolReporterOptions(rawOptions);
    });
    this.outputDir = resolve(configDir, this.options.outputDir);
  }

  printsToStdio(): boolean {
    return true;
  }

  onBegin(config: FullConfig, _suite: Suite): void {
    this.guard.run('onBegin', () => {
      this.beganAt = this.now();
      this.rootDir = config.rootDir;
      this.retries = Math.max(0, ...(config.projects ?? []).map((p) => p.retries ?? 0));
      if (this.listMode) return;
      // The teardown writes the final analytics here (unless globalSetup chose a path itself).
      if (!this.env[ANALYTICS_SNAPSHOT_ENV]) {
        this.snapshotFile = resolve(this.outputDir, SNAPSHOT_FILE);
        rmSync(this.snapshotFile, { force: true });
        this.env[ANALYTICS_SNAPSHOT_ENV] = this.snapshotFile;
      }
      // Workers started from now on inherit this: the analytics test reads the timings from it.
      this.timingsFile = resolve(this.outputDir, TIMINGS_FILE);
      resetTimingsFile(this.timingsFile);
      this.env[TEST_TIMINGS_ENV] = this.timingsFile;
    });
  }

  onTestEnd(test: TestCase, result: TestResult): void {
    this.guard.run('onTestEnd', () => {
      if (test.parent.project()?.name === ANALYTICS_PROJECT_NAME) {
        this.captureFromAnalyticsTest(result);
        return;
      }
      tallyRevocation(this.revoked, result.annotations ?? []);
      const timing = timingFromResult(test, result, this.rootDir);
      this.tests.push(timing);
      if (this.timingsFile) appendTiming(this.timingsFile, timing);
    });
  }

  async onEnd(_result: FullResult): Promise<void> {
    await this.guard.runAsync('onEnd', () => this.finish());
    this.guard.run('onEnd', () => {
      const advice = revocationAdvice(this.revoked, this.retries);
      if (advice) this.stdout.write(advice);
    });
    this.guard.flushRepeats();
  }

  private async finish(): Promise<void> {
    if (this.listMode) return;
    try {
      const { data, attempts } = await loadFirstAvailable(this.sources());
      if (!data) {
        this.stdout.write(noAnalyticsMessage(attempts));
        return;
      }
      const files = await writeReportFiles(this.outputDir, { analytics: data.analytics, audit: data.audit, tests: this.tests, origin: this.shortOrigin(data.origin) });
      this.stdout.write(
        renderTerminalSummary({
          analytics: data.analytics,
          tests: this.tests,
          origin: this.shortOrigin(data.origin),
          files: [this.display(files.html), this.display(files.json), this.display(files.jsonl)],
          color: useColor(this.stdout, this.env),
          width: this.stdout.columns ?? 100,
        }),
      );
    } finally {
      if (this.timingsFile) rmSync(this.timingsFile, { force: true });
      if (this.snapshotFile) rmSync(this.snapshotFile, { force: true });
    }
  }

  private sources(): AnalyticsSource[] {
    if (this.customSources) return this.customSources;
    return [
      snapshotFileSource(() => this.env[ANALYTICS_SNAPSHOT_ENV], { notBefore: this.beganAt }),
      coordinatorSourceFromEnv(this.env),
      this.captured,
    ];
  }

  /** The analytics test attached the analytics it fetched: keep them in case nothing else is left at onEnd. */
  private captureFromAnalyticsTest(result: TestResult): void {
    const read = (name: string) => {
      const attachment = result.attachments.find((a) => a.name === name);
      if (!attachment) return undefined;
      return attachment.body ? attachment.body.toString('utf8') : attachment.path ? readFileSync(attachment.path, 'utf8') : undefined;
    };
    const json = read(ANALYTICS_JSON_FILE);
    if (!json) return;
    const origin = 'the Container pool analytics test';
    const jsonl = read(AUDIT_JSONL_FILE) ?? '';
    const audit = jsonl
      .split('\n')
      .filter((line) => line.trim())
      .map((line) => JSON.parse(line) as unknown);
    this.captured.capture({ analytics: parseSystemAnalytics(JSON.parse(json), origin), audit: parseAuditEvents(audit, origin), origin });
  }

  private display(file: string): string {
    const rel = relative(process.cwd(), file);
    return rel && !rel.startsWith('..') ? rel : file;
  }

  private shortOrigin(origin: string): string {
    // "snapshot /abs/path/pool-report/.pool-snapshot.json": the absolute prefix is noise in a summary.
    return origin.startsWith(SNAPSHOT_ORIGIN) ? `${SNAPSHOT_ORIGIN}${this.display(origin.slice(SNAPSHOT_ORIGIN.length))}` : origin;
  }
}

function noAnalyticsMessage(attempts: readonly SourceAttempt[]): string {
  const tried = attempts.map((a) => `${a.source}: ${a.outcome}${a.error ? ` (${a.error})` : ''}`).join('; ');
  return (
    `\nContainer pool analytics: none available, no pool report written.\n` +
    `  Tried ${tried || 'nothing'}.\n` +
    `  The pool's analytics come from its globalSetup; use withContainerPool() in playwright.config.ts (or list\n` +
    `  @cinnamon-qa/containers/global-setup next to this reporter).\n`
  );
}
