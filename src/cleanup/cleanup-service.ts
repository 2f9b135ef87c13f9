import { sleepOn } from '../clock/clock-wait.js';
import { cleanupStageError, describeReport, errorText, STUCK_CONTAINER_FIX } from './cleanup-errors.js';
import {
  CLEANUP_STAGES,
  type CleanupLevel,
  type CleanupResult,
  type CleanupStage,
  type CleanupStageResult,
  type ContainerCleaner,
} from './cleanup-types.js';
import { parseCleanupServiceOptions, type CleanupServiceConfig, type CleanupServiceOptions } from './cleanup-service-options.js';
import { isScriptTimeout, runSandboxScript } from './run-sandbox-script.js';
import {
  clearCachesArgv,
  clearLogsArgv,
  clearTemporaryFilesArgv,
  resetEnvironmentArgv,
  terminateBrowserArgv,
  validateArgv,
} from './sandbox-scripts.js';

/** Pause between two calls of an injected session counter while connections drain. */
const SESSION_POLL_MS = 50;

/** Stages of a 'minimal' cleanup (under degradation): the browser, its temporary files, the proof. */
export const MINIMAL_STAGES: readonly CleanupStage[] = ['terminateBrowserProcesses', 'clearTemporaryFiles', 'validateCleanup'];

type StageOutcome = ({ ok: true } | { ok: false; error: string; stuck?: boolean }) & { openSessions?: number };

/** What a shell or `timeout` prints when the container's pids limit refuses a new process. */
const FORK_REFUSED = /cannot fork|fork system call failed|fork: (retry: )?resource temporarily unavailable/i;

/**
 * The six-stage cleanup between two holders of a container. Every stage is one POSIX `sh` script run through
 * `runtime.exec` under the exec environment contract, so one implementation serves Docker and the process
 * runtime (src/cleanup/sh/*.sh say what each script does). Stages are timed and independent: a failing
 * stage does not stop the next ones, and validateCleanup runs last, whatever came before it, with one
 * exception: a stage that used up its budget, or whose script the container refused to fork, means the
 * container cannot run commands (a fork bomb at its pids limit, a frozen container), so the rest are skipped
 * at once instead of each failing slowly in turn; the result says so (`stuck`) and the pool restarts it.
 * `cleanup()` never throws; the result says which stage failed and why (a CLEANUP_FAILED message).
 */
export class CleanupService implements ContainerCleaner {
  private readonly config: CleanupServiceConfig;

  /** Throws INVALID_OPTIONS naming the field when an option is bad (cleanup-service-options.ts). */
  constructor(options: CleanupServiceOptions) {
    this.config = parseCleanupServiceOptions(options);
  }

  async cleanup(containerId: string, level: CleanupLevel): Promise<CleanupResult> {
    const started = this.config.clock.monotonic();
    const stages = level === 'minimal' ? MINIMAL_STAGES : CLEANUP_STAGES;
    const results: CleanupStageResult[] = [];
    for (const stage of stages) {
      const stuck = results.find((r) => r.stuck);
      if (stuck) {
        const error = cleanupStageError(
          containerId,
          stage,
          `not run: the container could not run stage ${stuck.stage} (it used up its ${this.config.stageTimeoutMs} ms budget or could not start a process: a fork bomb at its pids limit, or a frozen container); it needs a restart`,
          undefined,
          STUCK_CONTAINER_FIX,
        ).message;
        results.push({ stage, success: false, durationMs: 0, error });
        continue;
      }
      results.push(await this.runStage(containerId, stage));
    }
    return {
      containerId,
      success: results.every((r) => r.success),
      durationMs: Math.round(this.config.clock.monotonic() - started),
      stages: results,
    };
  }

  private async runStage(containerId: string, stage: CleanupStage): Promise<CleanupStageResult> {
    const started = this.config.clock.monotonic();
    let outcome: StageOutcome;
    try {
      outcome = await this.stage(containerId, stage);
    } catch (error) {
      outcome = { ok: false, error: cleanupStageError(containerId, stage, errorText(error), error).message, ...(isScriptTimeout(error) ? { stuck: true } : {}) };
    }
    const durationMs = Math.round(this.config.clock.monotonic() - started);
    const sessions = outcome.openSessions !== undefined ? { openSessions: outcome.openSessions } : {};
    if (outcome.ok) return { stage, success: true, durationMs, ...sessions };
    return { stage, success: false, durationMs, error: outcome.error, ...(outcome.stuck ? { stuck: true } : {}), ...sessions };
  }

  private stage(containerId: string, stage: CleanupStage): Promise<StageOutcome> {
    switch (stage) {
      case 'terminateBrowserProcesses':
        return this.script(containerId, stage, terminateBrowserArgv(this.config.killGraceMs));
      case 'clearTemporaryFiles':
        return this.script(containerId, stage, clearTemporaryFilesArgv());
      case 'clearCaches':
        return this.script(containerId, stage, clearCachesArgv());
      case 'clearLogs':
        return this.script(containerId, stage, clearLogsArgv());
      case 'resetEnvironment':
        return this.script(containerId, stage, resetEnvironmentArgv(this.config.workdirKeep));
      case 'validateCleanup':
        return this.validate(containerId);
    }
  }

  private async validate(containerId: string): Promise<StageOutcome> {
    // The drain has to fit in the stage's budget, with room left for the process and file checks.
    const drainMs = Math.max(0, Math.min(this.config.sessionDrainMs, this.config.stageTimeoutMs - 1_000));
    const inScript = await this.script(containerId, 'validateCleanup', validateArgv(this.config.mcpSessions ? undefined : drainMs));
    if (!inScript.ok || !this.config.mcpSessions) return inScript;
    const deadline = this.config.clock.monotonic() + drainMs;
    for (;;) {
      const open = await this.config.mcpSessions(containerId);
      if (open <= 0) return { ok: true };
      if (this.config.clock.monotonic() >= deadline) {
        return { ok: false, openSessions: open, error: cleanupStageError(containerId, 'validateCleanup', `${open} MCP session(s) still open after ${drainMs} ms`).message };
      }
      await sleepOn(this.config.clock, SESSION_POLL_MS);
    }
  }

  private async script(containerId: string, stage: CleanupStage, argv: readonly string[]): Promise<StageOutcome> {
    const { exitCode, report, stderr } = await runSandboxScript(this.config.runtime, this.config.clock, containerId, argv, this.config.stageTimeoutMs);
    const sessions = stage === 'validateCleanup' && !this.config.mcpSessions ? { openSessions: report.connections.length } : {};
    if (exitCode === 0) return { ok: true, ...sessions };
    const problems = describeReport(report);
    const what = problems.length ? problems.join('; ') : `the script exited with code ${exitCode}${stderr ? `: ${stderr.slice(0, 300)}` : ''}`;
    if (FORK_REFUSED.test(`${stderr}\n${problems.join('\n')}`)) {
      const message = cleanupStageError(containerId, stage, `${what} — the container cannot start processes (its pids limit is full: a fork bomb?)`, undefined, STUCK_CONTAINER_FIX).message;
      return { ok: false, stuck: true, error: message, ...sessions };
    }
    return { ok: false, error: cleanupStageError(containerId, stage, what).message, ...sessions };
  }
}
