import { SystemClock, type Clock } from '../clock/clock.js';
import { RESET_STRATEGIES, type ResetStrategy } from '../config/schemas.js';
import type { HealthGate } from '../health/health-gate.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { describeReport, errorText, resetAttemptError } from './cleanup-errors.js';
import type { ContainerResetter, ResetResult } from './cleanup-types.js';
import { runSandboxScript } from './run-sandbox-script.js';
import { mediumResetArgv, softResetArgv } from './sandbox-scripts.js';

/** @defaultValue 1000 ms: how long Chromium gets to exit after SIGTERM in a soft reset (it needs ~50 ms). */
export const DEFAULT_SOFT_GRACE_MS = 1_000;

/**
 * Budget of one attempt per strategy, in ms. Hard and recovery include the health gate that proves the
 * server answers again (a container start takes 1-2 s; a recreate in Docker a little more).
 */
export const DEFAULT_RESET_BUDGETS_MS: Readonly<Record<ResetStrategy, number>> = {
  soft: 5_000,
  medium: 10_000,
  hard: 30_000,
  recovery: 60_000,
};

export interface ContainerResetManagerOptions {
  runtime: ContainerRuntime;
  /** Proves a server answers MCP after medium, hard and recovery. */
  health: HealthGate;
  /** The port a container's server is reached on (its ContainerSpec.port). */
  portOf: (containerId: string) => number;
  /** Times attempts and enforces budgets. @defaultValue SystemClock */
  clock?: Clock;
  /** Per-strategy attempt budgets. @defaultValue {@link DEFAULT_RESET_BUDGETS_MS} */
  budgetsMs?: Partial<Record<ResetStrategy, number>>;
  /** Chromium's time to exit on SIGTERM in a soft reset. @defaultValue {@link DEFAULT_SOFT_GRACE_MS} */
  softGraceMs?: number;
}

type Attempt = ResetResult['attempts'][number];

/**
 * Resets a container's server to a clean browser state, cheapest strategy first:
 * - soft: SIGTERM to the server's browser, so Chromium shuts down cleanly. @playwright/mcp drops every
 *   session's browser context when its browser disconnects and launches a fresh browser on the session's next
 *   tool call (checked with 0.0.83). Sessions themselves stay open: only their client knows the session id
 *   needed to DELETE one, so from outside the browser is what can be reset. Verified in the same exec: no
 *   browser process left, the server process runs and listens.
 * - medium: SIGKILL of every browser process, MCP_TMPDIR and the MCP output emptied; verified as soft plus
 *   an MCP handshake through the health gate (the server really answers).
 * - hard: `runtime.restart` (drops every session), then the health gate.
 * - recovery: `runtime.recreate` (a fresh container or sandbox), then the health gate.
 * A failed attempt escalates to the next strategy; `reset()` never throws, it returns every attempt timed.
 */
export class ContainerResetManager implements ContainerResetter {
  private readonly runtime: ContainerRuntime;
  private readonly health: HealthGate;
  private readonly portOf: (containerId: string) => number;
  private readonly clock: Clock;
  private readonly budgets: Record<ResetStrategy, number>;
  private readonly softGraceMs: number;

  constructor(options: ContainerResetManagerOptions) {
    this.runtime = options.runtime;
    this.health = options.health;
    this.portOf = options.portOf;
    this.clock = options.clock ?? new SystemClock();
    this.budgets = { ...DEFAULT_RESET_BUDGETS_MS, ...options.budgetsMs };
    for (const [strategy, ms] of Object.entries(this.budgets)) {
      if (!Number.isInteger(ms) || ms <= 0) throw new RangeError(`ContainerResetManager: the ${strategy} budget must be a positive integer of ms, got ${ms}`);
    }
    this.softGraceMs = options.softGraceMs ?? DEFAULT_SOFT_GRACE_MS;
    softResetArgv(this.softGraceMs); // rejects a bad grace now rather than at the first reset
  }

  async reset(containerId: string, strategy: ResetStrategy): Promise<ResetResult> {
    const started = this.clock.monotonic();
    const attempts: Attempt[] = [];
    const first = RESET_STRATEGIES.indexOf(strategy);
    if (first < 0) {
      // Only reachable from untyped callers: config values are parsed by zod before they get here.
      const error = resetAttemptError(containerId, strategy, 'unknown strategy').message;
      return { containerId, requested: strategy, success: false, durationMs: 0, attempts: [{ strategy, success: false, durationMs: 0, error }] };
    }
    for (const next of RESET_STRATEGIES.slice(first)) {
      const attempt = await this.attempt(containerId, next);
      attempts.push(attempt);
      if (attempt.success) {
        return { containerId, requested: strategy, applied: next, success: true, durationMs: this.since(started), attempts };
      }
    }
    return { containerId, requested: strategy, success: false, durationMs: this.since(started), attempts };
  }

  private async attempt(containerId: string, strategy: ResetStrategy): Promise<Attempt> {
    const started = this.clock.monotonic();
    const budgetMs = this.budgets[strategy];
    try {
      const failure = await this.withBudget(budgetMs, (deadline) => this.apply(containerId, strategy, deadline));
      if (failure === undefined) return { strategy, success: true, durationMs: this.since(started) };
      return { strategy, success: false, durationMs: this.since(started), error: resetAttemptError(containerId, strategy, failure).message };
    } catch (error) {
      return { strategy, success: false, durationMs: this.since(started), error: resetAttemptError(containerId, strategy, errorText(error), error).message };
    }
  }

  /** Applies one strategy; resolves to undefined on success, or to what went wrong. */
  private async apply(containerId: string, strategy: ResetStrategy, deadline: number): Promise<string | undefined> {
    switch (strategy) {
      case 'soft':
        return this.inSandbox(containerId, softResetArgv(this.softGraceMs), deadline);
      case 'medium': {
        const failure = await this.inSandbox(containerId, mediumResetArgv(), deadline);
        return failure ?? this.gate(containerId, deadline);
      }
      case 'hard':
        await this.runtime.restart(containerId);
        return this.gate(containerId, deadline);
      case 'recovery':
        await this.runtime.recreate(containerId);
        return this.gate(containerId, deadline);
    }
  }

  private async inSandbox(containerId: string, argv: readonly string[], deadline: number): Promise<string | undefined> {
    const { exitCode, report, stderr } = await runSandboxScript(this.runtime, this.clock, containerId, argv, this.remaining(deadline));
    if (exitCode === 0) return undefined;
    const problems = describeReport(report);
    return problems.length ? problems.join('; ') : `the script exited with code ${exitCode}${stderr ? `: ${stderr.slice(0, 300)}` : ''}`;
  }

  private async gate(containerId: string, deadline: number): Promise<string | undefined> {
    const report = await this.health.isContainerReady(this.portOf(containerId), containerId, { timeoutMs: this.remaining(deadline), starting: true });
    if (report.ready) return undefined;
    const failed = report.stages.find((s) => !s.ok);
    return `health gate failed at stage ${report.failedStage ?? failed?.stage ?? '?'}${failed?.error ? `: ${failed.error}` : ''}`;
  }

  /**
   * Runs `work` within `budgetMs`. Past the budget the attempt counts as failed and the reset escalates; the
   * runtime operation may still finish in the background, which the runtimes tolerate because they serialise
   * lifecycle operations per container.
   */
  private async withBudget<T>(budgetMs: number, work: (deadline: number) => Promise<T>): Promise<T> {
    const deadline = this.clock.monotonic() + budgetMs;
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = this.clock.setTimeout(() => reject(new Error(`it did not finish within its ${budgetMs} ms budget`)), budgetMs);
    });
    try {
      return await Promise.race([work(deadline), expired]);
    } finally {
      if (timer) this.clock.clearTimeout(timer);
    }
  }

  private remaining(deadline: number): number {
    return Math.max(1, Math.floor(deadline - this.clock.monotonic()));
  }

  private since(started: number): number {
    return Math.round(this.clock.monotonic() - started);
  }
}
