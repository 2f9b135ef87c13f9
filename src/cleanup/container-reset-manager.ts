import { withinBudget } from '../clock/clock-wait.js';
import { RESET_STRATEGIES, type ResetStrategy } from '../config/schemas.js';
import { PoolError } from '../errors/pool-error.js';
import { describeReport, errorText, resetAttemptError } from './cleanup-errors.js';
import type { ContainerResetter, ResetResult } from './cleanup-types.js';
import { parseContainerResetOptions, type ContainerResetManagerConfig, type ContainerResetManagerOptions } from './container-reset-options.js';
import { runSandboxScript } from './run-sandbox-script.js';
import { mediumResetArgv } from './sandbox-scripts.js';

type Attempt = ResetResult['attempts'][number];

/**
 * Resets a container's server to a clean browser state, cheapest strategy first:
 * - soft: one call to the member's guard (no exec): it ends every MCP session on the server, which closes each
 *   session's browser context (pages, cookies, storage, routes), while a session of the guard's own keeps the
 *   browser running (docker/image/guard-sessions.cjs). Every holder opens a new session afterwards and gets a
 *   fresh context in the warm browser. Verified by the guard: every session ended (or already gone), and the
 *   server answered. Processes a holder started itself stay until a medium reset or the cleanup between leases.
 * - medium: SIGKILL of every browser process, MCP_TMPDIR and the MCP output emptied; verified as soft plus
 *   an MCP handshake through the health gate (the server really answers).
 * - hard: `runtime.restart` (drops every session), then the health gate.
 * - recovery: `runtime.recreate` (a fresh container or sandbox), then the health gate.
 * A failed attempt escalates to the next strategy; `reset()` never throws, it returns every attempt timed.
 */
export class ContainerResetManager implements ContainerResetter {
  private readonly config: ContainerResetManagerConfig;

  /** Throws INVALID_OPTIONS naming the field when an option is bad (container-reset-options.ts). */
  constructor(options: ContainerResetManagerOptions) {
    this.config = parseContainerResetOptions(options);
  }

  async reset(containerId: string, strategy: ResetStrategy): Promise<ResetResult> {
    const started = this.config.clock.monotonic();
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
    const started = this.config.clock.monotonic();
    const budgetMs = this.config.budgetsMs[strategy];
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
        return this.endSessions(containerId, deadline);
      case 'medium': {
        const failure = await this.inSandbox(containerId, mediumResetArgv(), deadline);
        return failure ?? this.gate(containerId, deadline);
      }
      case 'hard':
        await this.config.runtime.restart(containerId);
        return this.gate(containerId, deadline);
      case 'recovery':
        await this.config.runtime.recreate(containerId);
        return this.gate(containerId, deadline);
    }
  }

  /** The guard's soft reset; what went wrong in its own words (endMemberSessions puts them in `data.problem`). */
  private async endSessions(containerId: string, deadline: number): Promise<string | undefined> {
    const target = { containerId, port: this.config.portOf(containerId), credential: this.config.credentialFor(containerId) };
    try {
      await this.config.endSessions(target, this.remaining(deadline));
      return undefined;
    } catch (error) {
      const problem = error instanceof PoolError && typeof error.data.problem === 'string' ? error.data.problem : errorText(error);
      return `the guard on port ${target.port} could not end the sessions: ${problem}`;
    }
  }

  private async inSandbox(containerId: string, argv: readonly string[], deadline: number): Promise<string | undefined> {
    const { exitCode, report, stderr } = await runSandboxScript(this.config.runtime, this.config.clock, containerId, argv, this.remaining(deadline));
    if (exitCode === 0) return undefined;
    const problems = describeReport(report);
    return problems.length ? problems.join('; ') : `the script exited with code ${exitCode}${stderr ? `: ${stderr.slice(0, 300)}` : ''}`;
  }

  private async gate(containerId: string, deadline: number): Promise<string | undefined> {
    const report = await this.config.health.isContainerReady(this.config.portOf(containerId), containerId, { timeoutMs: this.remaining(deadline), starting: true });
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
    const deadline = this.config.clock.monotonic() + budgetMs;
    return withinBudget(this.config.clock, work(deadline), budgetMs, () => new Error(`it did not finish within its ${budgetMs} ms budget`));
  }

  private remaining(deadline: number): number {
    return Math.max(1, Math.floor(deadline - this.config.clock.monotonic()));
  }

  private since(started: number): number {
    return Math.round(this.config.clock.monotonic() - started);
  }
}
