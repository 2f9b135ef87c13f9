import type { CleanupLevel, CleanupResult, ContainerCleaner, ContainerResetter, ResetResult } from '../../src/cleanup/cleanup-types.js';
import { CLEANUP_STAGES } from '../../src/cleanup/cleanup-types.js';
import type { ContainerSpec } from '../../src/config/pool-config.js';
import type { ResetStrategy } from '../../src/config/schemas.js';
import type { HealthGate, HealthReport } from '../../src/health/health-gate.js';
import type { ContainerRuntime, ExecResult, RunContext, RuntimeContainerInfo, RuntimeEvent, RuntimeState, RuntimeStats } from '../../src/runtime/container-runtime.js';

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
