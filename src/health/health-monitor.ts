import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../clock/clock.js';
import { memoryThresholdMB, type HealthConfig } from '../config/schemas.js';
import type { ContainerState } from '../domain/container-state.js';
import type { ContainerRuntime, RuntimeEvent, RuntimeStats } from '../runtime/container-runtime.js';
import { countOpenSessions, countZombies } from './container-probes.js';
import type { HealthGate, HealthReport } from './health-gate.js';

/** What the monitor watches: the pool's containers as they are now. */
export interface MonitorTarget {
  id: string;
  port: number;
  state: ContainerState;
  /** Memory limit, MB (the default threshold is DEFAULT_MEMORY_THRESHOLD_SHARE of it). */
  memoryLimitMB: number;
}

export interface HealthMonitorEvents {
  containerHealthy: { containerId: string; report: HealthReport };
  containerUnhealthy: { containerId: string; consecutiveFailures: number; reason: string };
  containerRecovered: { containerId: string };
  memoryThresholdExceeded: { containerId: string; memoryUsage: number; threshold: number };
  /** Measured resource use, each round. */
  usage: { containerId: string; stats: RuntimeStats };
  zombieProcesses: { containerId: string; processes: string[] };
  /** MCP sessions still open on a container nobody holds (a release that did not close its client). */
  sessionsLeftOpen: { containerId: string; sessions: number };
  roundCompleted: { durationMs: number; checked: number };
}

export interface HealthMonitorOptions {
  runtime: ContainerRuntime;
  health: HealthGate;
  clock: Clock;
  config: HealthConfig;
  /** The containers to watch, read at the start of every round. */
  targets: () => Promise<MonitorTarget[]>;
  /** Reports failures of the monitor itself (it never throws into the pool). */
  onError?: (error: unknown, context: string) => void;
}

/** States in which a container is expected to be serving; others are being started, cleaned or reset. */
const WATCHED: readonly ContainerState[] = ['Available', 'Allocated'];

/**
 * Periodic health rounds (every healthCheckIntervalMs, never overlapping) plus the runtime's death events, so
 * a dead container is known within a second and a hung one within unhealthyThreshold rounds. It only
 * observes and emits; the pool decides what to do (revoke the lease, recover, restart when free).
 */
export class HealthMonitor extends EventEmitter {
  private timer: TimerHandle | undefined;
  private running = false;
  private round: Promise<void> | undefined;
  private readonly failures = new Map<string, number>();
  private readonly unhealthy = new Set<string>();
  /** Zombies seen in the previous round, per container: only those still there a round later are reported. */
  private readonly zombiesSeen = new Map<string, Set<string>>();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly options: HealthMonitorOptions) {
    super();
  }

  override emit<K extends keyof HealthMonitorEvents>(event: K, payload: HealthMonitorEvents[K]): boolean {
    return super.emit(event, payload);
  }

  override on<K extends keyof HealthMonitorEvents>(event: K, listener: (payload: HealthMonitorEvents[K]) => void): this {
    return super.on(event, listener);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.unsubscribe = this.options.runtime.onEvent((e) => this.onRuntimeEvent(e));
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await this.round;
  }

  /** One round now (tests and `cinnamon-pool status` use it); waits for a round already running instead of overlapping. */
  checkNow(): Promise<void> {
    this.round ??= this.runRound().finally(() => {
      this.round = undefined;
    });
    return this.round;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = this.options.clock.setTimeout(() => {
      void this.checkNow().finally(() => this.schedule());
    }, this.options.config.healthCheckIntervalMs);
  }

  private onRuntimeEvent(event: RuntimeEvent): void {
    if (event.type === 'died' || event.type === 'oom') {
      const failures = Math.max(this.failures.get(event.containerId) ?? 0, this.options.config.unhealthyThreshold);
      this.failures.set(event.containerId, failures);
      this.unhealthy.add(event.containerId);
      const reason = event.type === 'oom' ? 'was killed: out of memory' : `died: ${event.reason}`;
      this.emit('containerUnhealthy', { containerId: event.containerId, consecutiveFailures: failures, reason });
    }
  }

  private async runRound(): Promise<void> {
    const t0 = this.options.clock.monotonic();
    let targets: MonitorTarget[];
    try {
      targets = await this.options.targets();
    } catch (error) {
      this.options.onError?.(error, 'health round: reading targets');
      return;
    }
    const watched = targets.filter((t) => WATCHED.includes(t.state));
    await Promise.all(watched.map((t) => this.checkOne(t)));
    this.emit('roundCompleted', { durationMs: Math.round(this.options.clock.monotonic() - t0), checked: watched.length });
  }

  private async checkOne(target: MonitorTarget): Promise<void> {
    const { health, config } = this.options;
    // Probes first: the health check's own HTTP connection could otherwise be counted as an open session.
    await this.measure(target).catch((error: unknown) => this.options.onError?.(error, `resource probe of ${target.id}`));
    try {
      const report = await health.isContainerReady(target.port, target.id, { timeoutMs: config.stageTimeoutMs * 3 });
      if (!report.ready) {
        const failures = (this.failures.get(target.id) ?? 0) + 1;
        this.failures.set(target.id, failures);
        const failed = report.stages.find((s) => !s.ok);
        if (failures >= config.unhealthyThreshold) {
          this.unhealthy.add(target.id);
          this.emit('containerUnhealthy', { containerId: target.id, consecutiveFailures: failures, reason: `failed health stage '${report.failedStage}' ${failures} time(s) in a row: ${failed?.error ?? 'not ready'}` });
        }
        return;
      }
      this.failures.set(target.id, 0);
      if (this.unhealthy.delete(target.id)) this.emit('containerRecovered', { containerId: target.id });
      this.emit('containerHealthy', { containerId: target.id, report });
    } catch (error) {
      this.options.onError?.(error, `health check of ${target.id}`);
    }
  }

  private async measure(target: MonitorTarget): Promise<void> {
    const { runtime, config } = this.options;
    const stats = await runtime.stats(target.id);
    this.emit('usage', { containerId: target.id, stats });
    const threshold = memoryThresholdMB(config.memoryThresholdMB, target.memoryLimitMB);
    if (stats.memoryMB > threshold) {
      this.emit('memoryThresholdExceeded', { containerId: target.id, memoryUsage: Math.round(stats.memoryMB), threshold });
    }
    // A browser killed by cleanup is a zombie for a moment until its parent reaps it: report only the ones
    // that outlive a whole round, which nobody is going to reap.
    const zombies = await countZombies(runtime, target.id, config.stageTimeoutMs);
    const before = this.zombiesSeen.get(target.id) ?? new Set<string>();
    this.zombiesSeen.set(target.id, new Set(zombies));
    const lasting = zombies.filter((z) => before.has(z));
    if (lasting.length) this.emit('zombieProcesses', { containerId: target.id, processes: lasting });
    if (target.state === 'Available') {
      const sessions = await countOpenSessions(runtime, target.id, config.stageTimeoutMs);
      if (sessions > 0) this.emit('sessionsLeftOpen', { containerId: target.id, sessions });
    }
  }
}
