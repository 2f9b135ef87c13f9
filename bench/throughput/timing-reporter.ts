import { writeFileSync } from 'node:fs';
import type { FullResult, Reporter, TestCase, TestResult } from '@playwright/test/reporter';

/** One test as the bench reads it back. */
export interface TestTiming {
  title: string;
  status: string;
  /** Epoch ms. */
  startMs: number;
  /** Playwright worker slot (0..workers-1): consecutive tests of one slot show the gap at test boundaries. */
  parallelIndex: number;
  durationMs: number;
  /**
   * Epoch ms when the runner heard the test end. Not startMs + durationMs: Playwright leaves out of a test's
   * duration the time spent in a fixture with its own timeout, i.e. the pool's queue wait.
   */
  endMs: number;
  /** The pool's `pool.waitMs` annotation (variant a only). */
  poolWaitMs?: number;
  error?: string;
}

export interface RunTimings {
  /** Epoch ms of the reporters' onEnd (after globalSetup's teardown). */
  endMs: number;
  status: FullResult['status'];
  tests: TestTiming[];
}

/**
 * Writes what the bench needs from a run (per-test start, duration, status, the pool's wait annotation) to
 * the JSON file named in its options. Playwright's JSON reporter would do, but it carries every step and
 * attachment of 40 tests; this stays small and typed.
 */
export default class TimingReporter implements Reporter {
  private readonly tests: TestTiming[] = [];

  constructor(private readonly options: { outputFile?: string }) {}

  onTestEnd(test: TestCase, result: TestResult): void {
    const wait = test.annotations.find((a) => a.type === 'pool.waitMs')?.description ?? result.annotations?.find((a) => a.type === 'pool.waitMs')?.description;
    this.tests.push({
      title: test.title,
      status: result.status,
      startMs: result.startTime.getTime(),
      parallelIndex: result.parallelIndex,
      durationMs: result.duration,
      endMs: Date.now(),
      ...(wait !== undefined ? { poolWaitMs: Number(wait) } : {}),
      ...(result.error?.message ? { error: result.error.message.slice(0, 500) } : {}),
    });
  }

  onEnd(result: FullResult): void {
    // `--list` (the bench's warm-up) runs without a file to write.
    if (!this.options.outputFile) return;
    const timings: RunTimings = { endMs: Date.now(), status: result.status, tests: this.tests };
    writeFileSync(this.options.outputFile, JSON.stringify(timings));
  }

  printsToStdio(): boolean {
    return false;
  }
}
