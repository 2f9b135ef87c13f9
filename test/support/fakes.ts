import type { CleanupLevel, CleanupResult, ContainerCleaner, ContainerResetter, ResetResult } from '../../src/cleanup/cleanup-types.js';
import { CLEANUP_STAGES } from '../../src/cleanup/cleanup-types.js';
import type { ContainerSpec } from '../../src/config/pool-config.js';
import type { ResetStrategy } from '../../src/config/schemas.js';
import type { HealthGate, HealthReport } from '../../src/health/health-gate.js';
import { PoolError } from '../../src/errors/pool-error.js';
import type { ContainerRuntime, ExecResult, RunContext, RuntimeContainerInfo, RuntimeEvent, RuntimeState, RuntimeStats } from '../../src/runtime/container-runtime.js';
import type { FenceResult, FenceTarget, MemberFence } from '../../src/runtime/member-fence.js';

/** In-memory runtime for unit tests: containers are records; kill() reports a death like Docker would. */
export class FakeRuntime implements ContainerRuntime {
  readonly kind = 'fake' as const;
  readonly limitations = ['fake runtime: nothing runs'];
  readonly running = new Map<string, ContainerSpec>();
  readonly calls: string[] = [];
  leftovers: string[] = [];
  failStart = new Set<string>();
  private listeners = new Set<(e: RuntimeEvent) => void>();
  private specs = new Map<string, ContainerSpec>();
  closed = false;

  async reapLeftovers(_ctx: RunContext): Promise<string[]> {
    const reaped = this.leftovers;
    this.leftovers = [];
    return reaped;
  }
  async start(spec: ContainerSpec): Promise<RuntimeContainerInfo> {
    this.calls.push(`start ${spec.id}`);
    if (this.failStart.has(spec.id)) throw new Error(`cannot start ${spec.id}`);
    this.specs.set(spec.id, spec);
    this.running.set(spec.id, spec);
    return { id: spec.id, name: spec.name, port: spec.port, runtimeId: `fake-${spec.id}` };
  }
  async stop(id: string): Promise<void> {
    this.calls.push(`stop ${id}`);
    this.running.delete(id);
  }
  async restart(id: string): Promise<void> {
    this.calls.push(`restart ${id}`);
    const spec = this.specs.get(id);
    if (spec) this.running.set(id, spec);
  }
  async recreate(id: string): Promise<RuntimeContainerInfo> {
    this.calls.push(`recreate ${id}`);
    const spec = this.specs.get(id)!;
    this.running.set(id, spec);
    return { id, name: spec.name, port: spec.port, runtimeId: `fake-${id}-2` };
  }
  async inspect(id: string): Promise<RuntimeState> {
    return this.running.has(id) ? { running: true, health: 'healthy' } : { running: false, health: 'none', reason: 'not running' };
  }
  /** Answers exec calls; by default every probe finds nothing (no zombie, no open session). */
  execHandler: (id: string, argv: readonly string[]) => ExecResult = (_id, argv) => ({
    exitCode: 0,
    stdout: argv.join(' ').includes('/proc/net/tcp') ? '0\n' : '',
    stderr: '',
  });
  memoryMB = new Map<string, number>();
  async exec(id: string, argv: readonly string[]): Promise<ExecResult> {
    return this.execHandler(id, argv);
  }
  async stats(id: string): Promise<RuntimeStats> {
    return { memoryMB: this.memoryMB.get(id) ?? 100, cpuPercent: 1 };
  }
  onEvent(listener: (event: RuntimeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  /** Simulates `docker kill`. */
  kill(id: string, reason = 'exited with code 137'): void {
    this.running.delete(id);
    for (const l of this.listeners) l({ type: 'died', containerId: id, at: Date.now(), reason });
  }
  listenerCount(): number {
    return this.listeners.size;
  }
  async close(): Promise<void> {
    this.closed = true;
    this.running.clear();
  }
}

/** Health gate that answers from a table: ready unless told otherwise. */
export class FakeHealthGate implements HealthGate {
  notReady = new Map<string, 'tcp' | 'mcp' | 'runtime'>();
  checks: string[] = [];
  constructor(private readonly runtime?: FakeRuntime) {}
  async isContainerReady(port: number, containerId?: string): Promise<HealthReport> {
    this.checks.push(containerId ?? String(port));
    const failed = (containerId && this.notReady.get(containerId)) || (containerId && this.runtime && !this.runtime.running.has(containerId) ? 'runtime' : undefined);
    return {
      ...(containerId ? { containerId } : {}),
      port,
      ready: !failed,
      ...(failed ? { failedStage: failed } : {}),
      stages: failed ? [{ stage: failed, ok: false, durationMs: 1, error: `${failed} failed (fake)` }] : [],
      durationMs: 1,
    };
  }
}

export class FakeCleaner implements ContainerCleaner {
  failing = new Set<string>();
  /** Containers whose validation finds MCP sessions still open. */
  sessionsOpen = new Set<string>();
  /** Containers whose first stage uses up its budget (the rest are then skipped, as the real service does). */
  stuck = new Set<string>();
  calls: Array<{ containerId: string; level: CleanupLevel }> = [];
  /** Resolves cleanups only when released, for tests that need a container to stay in Cleaning. */
  gate: Promise<void> | undefined;
  async cleanup(containerId: string, level: CleanupLevel): Promise<CleanupResult> {
    this.calls.push({ containerId, level });
    if (this.gate) await this.gate;
    const sessions = this.sessionsOpen.has(containerId);
    if (this.stuck.has(containerId)) {
      return {
        containerId,
        success: false,
        durationMs: 10_000,
        stages: CLEANUP_STAGES.map((stage, i) => ({ stage, success: false, durationMs: i === 0 ? 10_000 : 0, error: i === 0 ? 'budget used up' : 'not run', ...(i === 0 ? { stuck: true } : {}) })),
      };
    }
    const ok = !this.failing.has(containerId) && !sessions;
    return {
      containerId,
      success: ok,
      durationMs: 5,
      stages: CLEANUP_STAGES.map((stage) => ({
        stage,
        success: ok || stage !== 'validateCleanup',
        durationMs: 1,
        ...(ok || stage !== 'validateCleanup' ? {} : { error: sessions ? '1 MCP session still open' : 'a browser process remains' }),
        ...(stage === 'validateCleanup' ? { openSessions: sessions ? 1 : 0 } : {}),
      })),
    };
  }
}

export class FakeResetter implements ContainerResetter {
  /** Strategies that fail; the fake escalates like the real one. */
  failing = new Set<ResetStrategy>();
  calls: Array<{ containerId: string; strategy: ResetStrategy }> = [];
  async reset(containerId: string, strategy: ResetStrategy): Promise<ResetResult> {
    const order: ResetStrategy[] = ['soft', 'medium', 'hard', 'recovery'];
    const attempts: ResetResult['attempts'] = [];
    for (const s of order.slice(order.indexOf(strategy))) {
      this.calls.push({ containerId, strategy: s });
      const ok = !this.failing.has(s);
      attempts.push({ strategy: s, success: ok, durationMs: 1, ...(ok ? {} : { error: `${s} failed (fake)` }) });
      if (ok) return { containerId, requested: strategy, applied: s, success: true, durationMs: attempts.length, attempts };
    }
    return { containerId, requested: strategy, success: false, durationMs: attempts.length, attempts };
  }
}

/**
 * The pool's fence without a guard (fenceMember does real HTTP): records every call, keeps each member's floor
 * as a guard would (it only rises), and fails for the containers it is told to, with the RUNTIME_ERROR
 * fenceMember throws. `log`, when given, gets `fence <id> <floor>` for tests that check the order of calls.
 */
export class FakeFence {
  readonly calls: Array<{ containerId: string; port: number; floor: number }> = [];
  /** The credential each member was last fenced with (the pool's own, MemberCredentials.forPool). */
  readonly credentials = new Map<string, string>();
  /** Each member's floor after the calls so far. */
  readonly floors = new Map<string, number>();
  /** Failures still to come per container (Infinity: every call). */
  private readonly failures = new Map<string, number>();

  constructor(private readonly log?: string[]) {}

  /** The next `times` fences of `containerId` fail (default: all of them until {@link heal}). */
  failFor(containerId: string, times = Number.POSITIVE_INFINITY): void {
    this.failures.set(containerId, times);
  }

  heal(containerId: string): void {
    this.failures.delete(containerId);
  }

  /** The floors `containerId` was fenced at, in order. */
  floorsOf(containerId: string): number[] {
    return this.calls.filter((c) => c.containerId === containerId).map((c) => c.floor);
  }

  readonly fence: MemberFence = async (target: FenceTarget, floor: number): Promise<FenceResult> => {
    this.calls.push({ containerId: target.containerId, port: target.port, floor });
    this.credentials.set(target.containerId, target.credential);
    this.log?.push(`fence ${target.containerId} ${floor}`);
    const left = this.failures.get(target.containerId) ?? 0;
    if (left > 0) {
      this.failures.set(target.containerId, left - 1);
      throw new PoolError('RUNTIME_ERROR', `Fence of container ${target.containerId} (port ${target.port}) failed: connect ECONNREFUSED (fake).`, {
        containerId: target.containerId,
        operation: 'fence',
        floor,
      });
    }
    const raised = Math.max(floor, this.floors.get(target.containerId) ?? floor);
    this.floors.set(target.containerId, raised);
    return { floor: raised, cut: { connections: 0, sessions: 0, sessionsNotEnded: 0 } };
  };
}
