import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import type { ResetStrategy } from '../config/schemas.js';
import type { HealthReport } from '../health/health-gate.js';
import type { ExecResult } from '../runtime/container-runtime.js';
import type { GuardTarget } from '../runtime/guard-call.js';
import { endMemberSessions, type MemberSessionReset } from '../runtime/member-reset.js';
import { PoolError } from '../errors/pool-error.js';
import { FakeHealthGate, FakeRuntime } from '../../test/support/fakes.js';
import { ContainerResetManager } from './container-reset-manager.js';

/** Only medium runs a script (soft is a call to the member's guard); a script that is not medium's is a bug. */
function strategyOf(argv: readonly string[]): 'medium' | 'other' {
  return (argv[2] ?? '').includes('cq_end_browser 0 1 0') ? 'medium' : 'other';
}

class ScriptedRuntime extends FakeRuntime {
  readonly log: string[] = [];
  execReplies: Partial<Record<'medium', ExecResult | Error>> = {};
  restartError: Error | undefined;
  /** When set, restart() waits for it: a runtime call that hangs. */
  restartHang: Promise<void> | undefined;
  constructor(private readonly clock?: FakeClock) {
    super();
  }
  override async exec(_id: string, argv: readonly string[]): Promise<ExecResult> {
    const strategy = strategyOf(argv);
    this.log.push(`exec ${strategy}`);
    if (this.clock) await this.clock.advance(20);
    const reply = strategy === 'medium' ? this.execReplies[strategy] : undefined;
    if (reply instanceof Error) throw reply;
    return reply ?? { exitCode: 0, stdout: '', stderr: '' };
  }
  override async restart(id: string): Promise<void> {
    this.log.push('restart');
    if (this.restartHang) await this.restartHang;
    if (this.restartError) throw this.restartError;
    await super.restart(id);
  }
  override async recreate(id: string) {
    this.log.push('recreate');
    return { id, name: id, port: 3001, runtimeId: 'fake-2' };
  }
}

const ended: MemberSessionReset = { member: 'container-1', ended: 2, gone: 0, failed: 0, keeperAttached: true };

/** The guard's soft reset as the manager sees it: records each call, answers `reply` (or throws it). */
class FakeGuard {
  readonly calls: Array<{ target: GuardTarget; timeoutMs: number }> = [];
  reply: MemberSessionReset | Error = ended;
  constructor(
    private readonly log: string[],
    private readonly clock?: FakeClock,
  ) {}
  readonly endSessions = async (target: GuardTarget, timeoutMs: number): Promise<MemberSessionReset> => {
    this.calls.push({ target, timeoutMs });
    this.log.push('guard reset');
    if (this.clock) await this.clock.advance(5);
    if (this.reply instanceof Error) throw this.reply;
    return this.reply;
  };
}

function setUp(clock?: FakeClock) {
  const runtime = new ScriptedRuntime(clock);
  const health = new FakeHealthGate();
  const guard = new FakeGuard(runtime.log, clock);
  const ports: string[] = [];
  const manager = new ContainerResetManager({
    runtime,
    health,
    clock,
    portOf: (id) => {
      ports.push(id);
      return 3001;
    },
    credentialFor: (id) => `pool-credential-of-${id}`,
    endSessions: guard.endSessions,
  });
  return { runtime, health, guard, manager, ports };
}

/** What endMemberSessions throws when a session could not be ended (its own words in data.problem). */
const notEnded = new PoolError('RUNTIME_ERROR', 'Soft reset of container container-1 (port 3001) through its guard failed: 1 session(s) could not be ended. Fix: ...', {
  containerId: 'container-1',
  operation: 'reset',
  problem: '1 session(s) could not be ended',
});
const survivor: ExecResult = { exitCode: 1, stdout: 'SIGNAL KILL 77 chromium\nSURVIVOR 77 chromium\n', stderr: '' };

describe('ContainerResetManager', () => {
  it('soft: one call to the guard (port, pool credential, the budget left), no exec, no health gate', async () => {
    const clock = new FakeClock();
    const { runtime, health, guard, manager } = setUp(clock);
    const result = await manager.reset('container-1', 'soft');
    expect(runtime.log).toEqual(['guard reset']);
    expect(guard.calls).toEqual([{ target: { containerId: 'container-1', port: 3001, credential: 'pool-credential-of-container-1' }, timeoutMs: 5_000 }]);
    expect(health.checks).toEqual([]);
    expect(result).toEqual({
      containerId: 'container-1',
      requested: 'soft',
      applied: 'soft',
      success: true,
      durationMs: 5,
      attempts: [{ strategy: 'soft', success: true, durationMs: 5 }],
    });
  });

  it('escalates soft → medium when the guard could not end every session, with its words in the attempt', async () => {
    const { runtime, health, guard, manager } = setUp();
    guard.reply = notEnded;
    const result = await manager.reset('container-1', 'soft');
    expect(runtime.log).toEqual(['guard reset', 'exec medium']);
    expect(health.checks).toEqual(['container-1']); // medium proves the server answers MCP
    expect(result).toMatchObject({ success: true, requested: 'soft', applied: 'medium' });
    expect(result.attempts.map((a) => [a.strategy, a.success])).toEqual([
      ['soft', false],
      ['medium', true],
    ]);
    expect(result.attempts[0]!.error).toBe(
      'Reset (soft) of container container-1 failed: the guard on port 3001 could not end the sessions: 1 session(s) could not be ended. ' +
        'Fix: the reset escalates to medium (SIGKILL of the browser) by itself.',
    );
  });

  it('escalates soft → medium when the guard does not answer at all (the real call, nothing listening)', async () => {
    const runtime = new ScriptedRuntime();
    const manager = new ContainerResetManager({ runtime, health: new FakeHealthGate(), portOf: () => 1, credentialFor: () => 'cq1.x.y', endSessions: endMemberSessions });
    const result = await manager.reset('container-1', 'soft');
    expect(runtime.log).toEqual(['exec medium']);
    expect(result).toMatchObject({ success: true, applied: 'medium' });
    expect(result.attempts[0]!.error).toMatch(/^Reset \(soft\) of container container-1 failed: the guard on port 1 could not end the sessions: connect ECONNREFUSED 127\.0\.0\.1:1\. Fix: /);
  });

  it('medium fails when the health gate does not pass after it, and hard takes over', async () => {
    const { runtime, health, manager } = setUp();
    let checks = 0;
    const gate = health.isContainerReady.bind(health);
    health.isContainerReady = async (port: number, id?: string): Promise<HealthReport> => {
      checks++;
      if (checks === 1) return { containerId: id, port, ready: false, failedStage: 'mcp', stages: [{ stage: 'mcp', ok: false, durationMs: 3, error: 'initialize timed out' }], durationMs: 3 };
      return gate(port, id);
    };
    const result = await manager.reset('container-1', 'medium');
    expect(runtime.log).toEqual(['exec medium', 'restart']);
    expect(result).toMatchObject({ success: true, applied: 'hard' });
    expect(result.attempts[0]!.error).toContain('failed: health gate failed at stage mcp: initialize timed out. Fix: the reset escalates to hard');
  });

  it('escalates through every strategy to recovery (recreate + health gate)', async () => {
    const { runtime, guard, manager, ports } = setUp();
    guard.reply = new Error('socket hang up');
    runtime.execReplies.medium = new Error('exec failed: container is restarting');
    runtime.restartError = new Error('Docker runtime: restart of container container-1 failed: 500 server error');
    const result = await manager.reset('container-1', 'soft');
    expect(runtime.log).toEqual(['guard reset', 'exec medium', 'restart', 'recreate']);
    expect(ports).toEqual(['container-1', 'container-1']);
    expect(result.attempts[0]!.error).toContain('could not end the sessions: socket hang up.');
    expect(result).toMatchObject({ success: true, requested: 'soft', applied: 'recovery' });
    expect(result.attempts.map((a) => a.strategy)).toEqual(['soft', 'medium', 'hard', 'recovery']);
    expect(result.attempts[2]!.error).toContain('Reset (hard) of container container-1 failed: Docker runtime: restart of container container-1 failed: 500 server error.');
  });

  it('returns (never throws) a failed result with every attempt when even recovery fails', async () => {
    const { runtime, health, guard, manager } = setUp();
    guard.reply = notEnded;
    runtime.execReplies.medium = survivor;
    health.notReady.set('container-1', 'tcp');
    const result = await manager.reset('container-1', 'soft');
    expect(result.success).toBe(false);
    expect(result.applied).toBeUndefined();
    expect(result.attempts.map((a) => [a.strategy, a.success])).toEqual([
      ['soft', false],
      ['medium', false],
      ['hard', false],
      ['recovery', false],
    ]);
    expect(result.attempts[3]!.error).toMatch(/^Reset \(recovery\) of container container-1 failed: health gate failed at stage tcp: tcp failed \(fake\)\. Fix: every strategy failed/);
  });

  it.each<[ResetStrategy, string[]]>([
    ['medium', ['exec medium']],
    ['hard', ['restart']],
    ['recovery', ['recreate']],
  ])('starts at the requested strategy (%s), never a cheaper one', async (strategy, log) => {
    const { runtime, manager } = setUp();
    const result = await manager.reset('container-1', strategy);
    expect(runtime.log).toEqual(log);
    expect(result).toMatchObject({ success: true, requested: strategy, applied: strategy });
  });

  it('a hard reset that overruns its budget fails and recovery follows', async () => {
    const clock = new FakeClock();
    const runtime = new ScriptedRuntime(clock);
    runtime.restartHang = new Promise(() => undefined);
    const manager = new ContainerResetManager({ runtime, health: new FakeHealthGate(), portOf: () => 3001, credentialFor: () => 'unused', clock, budgetsMs: { hard: 2_000 } });
    const pending = manager.reset('container-1', 'hard');
    await clock.advance(2_000);
    const result = await pending;
    expect(result.attempts[0]).toMatchObject({ strategy: 'hard', success: false, durationMs: 2_000 });
    expect(result.attempts[0]!.error).toContain('it did not finish within its 2000 ms budget');
    expect(result).toMatchObject({ success: true, applied: 'recovery', durationMs: 2_000 });
  });

  it('answers an unknown strategy (an untyped caller) with a failed result, not an exception', async () => {
    const { runtime, manager } = setUp();
    const result = await manager.reset('container-1', 'gentle' as ResetStrategy);
    expect(runtime.log).toEqual([]);
    expect(result).toMatchObject({ success: false, requested: 'gentle' });
    expect(result.attempts[0]!.error).toBe(
      'Reset (gentle) of container container-1 failed: unknown strategy. Fix: pass one of soft, medium, hard, recovery.',
    );
  });
});
