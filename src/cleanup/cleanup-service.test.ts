import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { PoolError } from '../errors/pool-error.js';
import type { ExecResult } from '../runtime/container-runtime.js';
import { FakeRuntime } from '../../test/support/fakes.js';
import { expectOneRefusal } from '../../test/support/options-refusal.js';
import { DEFAULT_CLEANUP_STAGE_TIMEOUT_MS } from '../config/schemas.js';
import { CleanupService } from './cleanup-service.js';
import { DEFAULT_KILL_GRACE_MS, DEFAULT_SESSION_DRAIN_MS } from './cleanup-service-options.js';
import { CLEANUP_STAGES, type CleanupStage } from './cleanup-types.js';

/** Which stage a script belongs to, by its header line (`# Stage <name>:`, sh/*.sh). */
function stageOf(argv: readonly string[]): CleanupStage {
  const script = argv[2] ?? '';
  const stage = /^# Stage (\w+):/m.exec(script)?.[1];
  if (stage && (CLEANUP_STAGES as readonly string[]).includes(stage)) return stage as CleanupStage;
  throw new Error(`unknown script: ${script.slice(-200)}`);
}

/** Moves a fake clock in small steps until `work` settles: timers are set along the way, not up front. */
async function runWithClock<T>(clock: FakeClock, work: Promise<T>, stepMs = 50): Promise<T> {
  let done = false;
  void work.finally(() => (done = true)).catch(() => undefined);
  while (!done) {
    await new Promise((resolve) => setImmediate(resolve));
    if (!done) await clock.advance(stepMs);
  }
  return work;
}

type Reply = ExecResult | Error | ((argv: readonly string[]) => Promise<ExecResult>);

/** A runtime whose exec answers per stage and records the order, advancing a fake clock 10 ms per exec. */
class ScriptedRuntime extends FakeRuntime {
  readonly order: CleanupStage[] = [];
  readonly argvs: string[][] = [];
  replies = new Map<CleanupStage, Reply>();
  constructor(private readonly clock?: FakeClock) {
    super();
  }
  override async exec(_id: string, argv: readonly string[]): Promise<ExecResult> {
    const stage = stageOf(argv);
    this.order.push(stage);
    this.argvs.push([...argv]);
    if (this.clock) await this.clock.advance(10);
    const reply = this.replies.get(stage);
    if (reply instanceof Error) throw reply;
    if (typeof reply === 'function') return reply(argv);
    return reply ?? { exitCode: 0, stdout: '', stderr: '' };
  }
}

describe('CleanupService', () => {
  it('runs the six stages in order, each timed, and succeeds when all do', async () => {
    const clock = new FakeClock();
    const runtime = new ScriptedRuntime(clock);
    const result = await new CleanupService({ runtime, clock }).cleanup('container-1', 'full');
    expect(runtime.order).toEqual(CLEANUP_STAGES);
    expect(result).toEqual({
      containerId: 'container-1',
      success: true,
      durationMs: 60,
      stages: CLEANUP_STAGES.map((stage) => ({ stage, success: true, durationMs: 10, ...(stage === 'validateCleanup' ? { openSessions: 0 } : {}) })),
    });
  });

  it("'minimal' runs only the browser, the temporary files and the validation", async () => {
    const runtime = new ScriptedRuntime();
    const result = await new CleanupService({ runtime }).cleanup('container-1', 'minimal');
    expect(runtime.order).toEqual(['terminateBrowserProcesses', 'clearTemporaryFiles', 'validateCleanup']);
    expect(result.stages.map((s) => s.stage)).toEqual(runtime.order);
  });

  it('passes the named defaults to the scripts: the kill grace, and a drain that fits in the stage budget', async () => {
    const runtime = new ScriptedRuntime();
    await new CleanupService({ runtime }).cleanup('container-1', 'minimal');
    expect(runtime.argvs[0]!.at(-1)).toBe(String(DEFAULT_KILL_GRACE_MS));
    expect(runtime.argvs.at(-1)!.at(-1)).toBe(String(Math.min(DEFAULT_SESSION_DRAIN_MS, DEFAULT_CLEANUP_STAGE_TIMEOUT_MS - 1_000)));
  });

  it('a failing stage does not stop the others, and validation still runs last', async () => {
    const runtime = new ScriptedRuntime();
    runtime.replies.set('terminateBrowserProcesses', { exitCode: 1, stdout: 'SIGNAL KILL 41 chromium\nSURVIVOR 41 chromium\n', stderr: '' });
    runtime.replies.set('clearCaches', new PoolError('RUNTIME_ERROR', 'Docker runtime: exec of "sh" in container container-1 failed: no such container'));
    runtime.replies.set('clearLogs', { exitCode: 1, stdout: 'LEFT /mcp/home/chrome_debug.log\n', stderr: '' });
    const result = await new CleanupService({ runtime }).cleanup('container-1', 'full');

    expect(runtime.order).toEqual(CLEANUP_STAGES);
    expect(result.success).toBe(false);
    const byStage = Object.fromEntries(result.stages.map((s) => [s.stage, s]));
    expect(byStage.terminateBrowserProcesses!.error).toBe(
      'Cleanup of container container-1 failed at stage terminateBrowserProcesses: browser process(es) still running after the signals: 41 chromium. ' +
        'Fix: a process that survives SIGKILL is stuck in the kernel (uninterruptible I/O); a hard reset (restart) of the container clears it.',
    );
    expect(byStage.clearCaches!.error).toMatch(/^Cleanup of container container-1 failed at stage clearCaches: Docker runtime: exec .* no such container\. Fix: /);
    expect(byStage.clearLogs!.error).toContain('could not remove /mcp/home/chrome_debug.log');
    expect(byStage.clearTemporaryFiles!.success).toBe(true);
    expect(byStage.resetEnvironment!.success).toBe(true);
    expect(byStage.validateCleanup!.success).toBe(true);
  });

  it('names the exit code and stderr when a script fails without a report', async () => {
    const runtime = new ScriptedRuntime();
    runtime.replies.set('clearTemporaryFiles', { exitCode: 127, stdout: '', stderr: 'sh: 1: rm: not found\n' });
    const result = await new CleanupService({ runtime }).cleanup('c9', 'minimal');
    expect(result.stages[1]!.error).toContain('stage clearTemporaryFiles: the script exited with code 127: sh: 1: rm: not found. Fix:');
  });

  it('gives each stage its budget, and does not hang on a runtime that never answers (the rest are skipped)', async () => {
    const clock = new FakeClock();
    const runtime = new ScriptedRuntime();
    const budgets: Array<number | undefined> = [];
    const exec = runtime.exec.bind(runtime);
    runtime.exec = async (id: string, argv: readonly string[], options?: { timeoutMs?: number }) => {
      budgets.push(options?.timeoutMs);
      return exec(id, argv);
    };
    runtime.replies.set('clearTemporaryFiles', () => new Promise<ExecResult>(() => undefined));
    const result = await runWithClock(clock, new CleanupService({ runtime, clock, stageTimeoutMs: 3_000 }).cleanup('c1', 'minimal'));
    expect(budgets).toEqual([3_000, 3_000]);
    expect(result.stages[1]).toMatchObject({ stage: 'clearTemporaryFiles', success: false, durationMs: 5_000 });
    expect(result.stages[1]!.error).toContain('the fake runtime did not answer within 5000 ms');
    expect(result.stages[1]!.stuck).toBe(true);
    expect(runtime.order).toEqual(['terminateBrowserProcesses', 'clearTemporaryFiles']);
    expect(result.stages[2]).toMatchObject({ stage: 'validateCleanup', success: false, durationMs: 0 });
    expect(result.stages[2]!.error).toMatch(/not run: the container could not run stage clearTemporaryFiles \(it used up its 3000 ms budget.*restart/);
  });

  it('skips the remaining stages at once when the runtime reports a stage timed out (fork bomb), not after each budget', async () => {
    const runtime = new ScriptedRuntime();
    runtime.replies.set(
      'terminateBrowserProcesses',
      new PoolError('RUNTIME_ERROR', 'exec of "sh" in container c1 ran longer than its 10000 ms budget and was killed', { timedOut: true, exitCode: 124 }),
    );
    const result = await new CleanupService({ runtime }).cleanup('c1', 'full');
    expect(runtime.order).toEqual(['terminateBrowserProcesses']);
    expect(result.success).toBe(false);
    expect(result.stages.map((s) => [s.stage, s.success, s.stuck ?? false])).toEqual(CLEANUP_STAGES.map((stage, i) => [stage, false, i === 0]));
    expect(result.stages.slice(1).every((s) => s.durationMs === 0 && /not run: the container could not run stage terminateBrowserProcesses/.test(s.error ?? ''))).toBe(true);
  });

  it('skips the rest when the container refuses to fork (pids limit full), naming the cause and the restart', async () => {
    const runtime = new ScriptedRuntime();
    runtime.replies.set('terminateBrowserProcesses', { exitCode: 125, stdout: '', stderr: 'timeout: fork system call failed: Resource temporarily unavailable' });
    const result = await new CleanupService({ runtime }).cleanup('c1', 'full');
    expect(runtime.order).toEqual(['terminateBrowserProcesses']);
    expect(result.stages[0]).toMatchObject({ success: false, stuck: true });
    expect(result.stages[0]!.error).toMatch(/cannot start processes \(its pids limit is full: a fork bomb\?\)\. Fix: a hard reset \(restart\)/);
    expect(result.stages.slice(1).every((s) => !s.success && s.durationMs === 0)).toBe(true);
  });

  it('an ordinary stage failure (not a timeout) still runs every later stage', async () => {
    const runtime = new ScriptedRuntime();
    runtime.replies.set('clearCaches', new PoolError('RUNTIME_ERROR', 'exec failed: no such container'));
    const result = await new CleanupService({ runtime }).cleanup('c1', 'full');
    expect(runtime.order).toEqual(CLEANUP_STAGES);
    expect(result.stages.filter((s) => !s.success).map((s) => s.stage)).toEqual(['clearCaches']);
  });

  it('validates connections in the script by default, draining at most the session budget', async () => {
    const runtime = new ScriptedRuntime();
    runtime.replies.set('validateCleanup', { exitCode: 1, stdout: 'CONN 010011AC:D2F0\n', stderr: '' });
    const result = await new CleanupService({ runtime, sessionDrainMs: 1_234 }).cleanup('c1', 'minimal');
    expect(runtime.argvs.at(-1)!.at(-1)).toBe('1234');
    expect(result.stages.at(-1)!.error).toContain(
      '1 connection(s) to the MCP port still open (an MCP client holds its session) from 172.17.0.1:54000',
    );
  });

  it('polls an injected session counter instead, until it reads zero or the drain time is up', async () => {
    const clock = new FakeClock();
    const runtime = new ScriptedRuntime();
    const counts = [2, 1, 0];
    const service = new CleanupService({ runtime, clock, sessionDrainMs: 1_000, mcpSessions: async () => counts.shift() ?? 0 });
    const result = await runWithClock(clock, service.cleanup('c1', 'minimal'));
    expect(runtime.argvs.at(-1)!.at(-1)).toBe('none'); // the script skipped its own connection check
    expect(result.success).toBe(true);
    expect(counts).toEqual([]);

    const failed = await runWithClock(clock, new CleanupService({ runtime, clock, sessionDrainMs: 300, mcpSessions: async () => 1 }).cleanup('c1', 'minimal'));
    expect(failed.stages.at(-1)!.error).toContain('stage validateCleanup: 1 MCP session(s) still open after 300 ms');
  });

  it('rejects options that cannot become a script when it is built, not mid-cleanup: one INVALID_OPTIONS naming the field', () => {
    const runtime = new ScriptedRuntime();
    for (const [bad, field] of [
      [{ workdirKeep: ['../etc'] }, /workdirKeep\.0: must be a plain file name .*\(got "\.\.\/etc"\)/],
      [{ killGraceMs: -1 }, /killGraceMs: must be 0 ms or more \(got -1\)/],
      [{ sessionDrainMs: 1.5 }, /sessionDrainMs: must be a whole number of ms \(got 1\.5\)/],
    ] as const) {
      expectOneRefusal(() => new CleanupService({ runtime, ...bad }), 'CleanupService options', field);
      expect(runtime.argvs).toEqual([]);
    }
  });
});
