import type { ResetResult } from '../cleanup/cleanup-types.js';
import { readTraceFiles, type TraceFile } from '../cleanup/trace-files.js';
import type { PoolConfig } from '../config/pool-config.js';
import type { ResetStrategy } from '../config/schemas.js';
import type { ContainerState } from '../domain/container-state.js';
import { isPoolError, PoolError } from '../errors/pool-error.js';
import { healthGateError } from '../health/health-gate-error.js';
import { HealthMonitor } from '../health/health-monitor.js';
import type { ContainerSpec } from '../config/pool-config.js';
import type { RunContext } from '../runtime/container-runtime.js';
import type { ContainerRecord, Lease } from '../store/pool-store.js';
import { specOf } from './container-spec-lookup.js';
import { errorMessage } from './pool-events.js';
import type { HostStartOptions, MemberEndpoint, PoolHost } from './pool-host.js';
import { Recycler, type RecyclerDeps } from './recycler.js';
import { DEFAULT_SERVE_FROM, startVerdict, type StartTally } from './start-policy.js';

export type { ContainerHost } from './pool-host.js';

export interface ContainerKeeperDeps extends Omit<RecyclerDeps, 'config' | 'active'> {
  config: PoolConfig;
  /** The pool's phase: failures are handled only while running; store moves retried while starting or running. */
  phase: () => 'new' | 'starting' | 'running' | 'closing' | 'closed';
}

/**
 * Keeps one host's containers: starts them and gates them on health, watches them (health monitor), cleans,
 * resets and recovers them (recycler), stops them. It decides nothing about who gets a container.
 */
export class ContainerKeeper implements PoolHost {
  private readonly monitor: HealthMonitor;
  private readonly recycler: Recycler;
  private monitoring = false;
  /** Member starts still running (start, gate, fence), by id; stopAll stops them and waits for them. */
  private readonly starting = new Map<string, Promise<void>>();
  /** Calls off the start gates still running (shutdown): a member still starting is stopped, never opened. */
  private readonly stopStarts = new AbortController();

  constructor(private readonly deps: ContainerKeeperDeps) {
    const { config, store, runtime, health, clock } = deps;
    this.recycler = new Recycler({
      ...deps,
      active: () => deps.phase() === 'running' || deps.phase() === 'starting',
    });
    this.monitor = new HealthMonitor({
      runtime,
      health,
      clock,
      config: config.health,
      targets: async () => (await store.listContainers()).map((c) => ({ id: c.id, port: c.port, state: c.state, memoryLimitMB: c.limits.memoryMB })),
      onError: (error, context) => deps.report(error, context),
    });
    this.wireMonitor();
  }

  /**
   * Removes leftovers of crashed runs, registers and starts every container and gates each on all health
   * stages. Resolves with how many passed when the pool may open (start-policy.ts: every member, or with
   * `serveFrom: 'first'` the first one; the others join as they pass, or are recovered when they fail). If the
   * pool may not open, everything started is stopped again and the error names each container, stage and fix.
   */
  async start(ctx: RunContext, options: HostStartOptions = {}): Promise<number> {
    const serveFrom = options.serveFrom ?? DEFAULT_SERVE_FROM;
    const { config, store, runtime, clock, logger } = this.deps;
    const t0 = clock.monotonic();
    const tally: StartTally = { total: config.containerSpecs.length, launched: 0, ready: 0, failed: 0 };
    const failures: unknown[] = [];
    let open = false;
    let decide!: (verdict: 'serve' | 'fail') => void;
    const decided = new Promise<'serve' | 'fail'>((resolve) => (decide = resolve));
    const settleOne = () => {
      const verdict = startVerdict(tally, serveFrom);
      // Set at once, not after `await decided`: a member settling in between already counts as late.
      if (verdict === 'serve') open = true;
      if (verdict !== 'wait') decide(verdict);
    };
    try {
      const reaped = await runtime.reapLeftovers(ctx);
      if (reaped.length) logger.warn(`Removed ${reaped.length} container(s) left by an earlier run: ${reaped.join(', ')}`);
      await store.registerContainers(config.containerSpecs, clock.now());
      this.startMonitor();
      for (const spec of config.containerSpecs) {
        const launched = () => {
          tally.launched++;
          settleOne();
        };
        const task = this.startMember(spec, ctx, launched).then(
          () => {
            tally.ready++;
            if (open) this.joined(spec, tally, t0);
            settleOne();
          },
          (error: unknown) => {
            tally.failed++;
            if (open) this.startFailedLate(spec, error, tally, t0);
            else failures.push(error);
            settleOne();
          },
        );
        this.starting.set(spec.id, task);
        void task.finally(() => this.starting.delete(spec.id));
      }
      if ((await decided) === 'fail') throw failures.length === 1 ? failures[0] : combineStartFailures(failures);
    } catch (error) {
      this.stopStarts.abort();
      await this.stopMonitor();
      await Promise.allSettled([...this.starting.values()]);
      await Promise.allSettled(config.containerSpecs.map((spec) => runtime.stop(spec.id)));
      throw error;
    }
    return tally.ready;
  }

  /** One member: start it, gate it, fence its guard, make it Available. Rejects naming the member and stage. */
  private async startMember(spec: ContainerSpec, ctx: RunContext, launched: () => void): Promise<void> {
    const { config, runtime, health } = this.deps;
    const signal = this.stopStarts.signal;
    await runtime.start(spec, { ...ctx, guardKey: (id) => this.deps.credentials.keyOf(id) });
    launched();
    this.assertStillStarting(spec, signal);
    // The gate is told to stop too, but a stop must not wait for it to notice.
    const called = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(this.stoppedWhileStarting(spec)), { once: true }));
    called.catch(() => undefined);
    const report = await Promise.race([health.isContainerReady(spec.port, spec.id, { timeoutMs: config.health.startupTimeoutMs, starting: true, signal }), called]);
    this.assertStillStarting(spec, signal);
    if (!report.ready) throw healthGateError(report, { containerName: spec.name });
    // A new guard admits no lease until the pool sets its floor.
    await this.recycler.fence(spec.id);
    this.assertStillStarting(spec, signal);
    await this.recycler.move(spec.id, 'Starting', 'Available');
    this.deps.emit('containerHealthy', { containerId: spec.id, report });
  }

  private assertStillStarting(spec: ContainerSpec, signal: AbortSignal): void {
    const phase = this.deps.phase();
    if (!signal.aborted && phase !== 'closing' && phase !== 'closed') return;
    throw this.stoppedWhileStarting(spec);
  }

  private stoppedWhileStarting(spec: ContainerSpec): PoolError {
    return new PoolError('POOL_SHUT_DOWN', `Container ${spec.name} was still starting when the pool stopped; it was stopped too.`, { containerId: spec.id });
  }

  /** A member passed its start gate after the pool opened: it is Available now, so the queue may get it. */
  private joined(spec: ContainerSpec, tally: StartTally, t0: number): void {
    const afterMs = Math.round(this.deps.clock.monotonic() - t0);
    this.deps.emit('memberJoined', { containerId: spec.id, name: spec.name, ready: tally.ready, total: tally.total, afterMs });
    this.deps.onAvailable();
  }

  /**
   * A member failed its start or gate while the pool serves without it: reported (container, stage, fix: the
   * gate's error says them), never handed out (it never reached Available), and recovered like any unhealthy
   * member (reset, restart from scratch, quarantine after MAX_RECOVERY_ATTEMPTS).
   */
  private startFailedLate(spec: ContainerSpec, error: unknown, tally: StartTally, t0: number): void {
    const { logger, emit, report, store } = this.deps;
    const phase = this.deps.phase();
    if (phase === 'closing' || phase === 'closed') return;
    const reason = errorMessage(error);
    logger.warn(`${reason}\n(${spec.name} is not handed out; the pool serves with the other members and recovers it.)`);
    void (async () => {
      await this.recycler.move(spec.id, 'Starting', 'Unhealthy', reason);
      const record = await store.getContainer(spec.id).catch(() => undefined);
      emit('containerUnhealthy', { containerId: spec.id, consecutiveFailures: record?.consecutiveFailures ?? 1, reason, cause: 'start-failed' });
      // Recovered: it joins like a member that passed its first gate late (recovery already made it Available).
      if ((await this.recycler.recover(spec.id)) === 'Available') {
        tally.ready++;
        this.joined(spec, tally, t0);
      }
    })().catch((e: unknown) => report(e, `recover ${spec.id} after its failed start`));
  }

  /** Takes over containers already running whose records are in the store: watches them, restarts nothing. */
  async resume(): Promise<void> {
    const known = await this.deps.store.listContainers();
    const missing = this.deps.config.containerSpecs.filter((s) => !known.some((k) => k.id === s.id));
    if (missing.length) {
      throw new PoolError('CORRUPT_STATE', `Cannot resume: the store knows no record of ${missing.map((m) => m.id).join(', ')}. Start the pool with initialize().`, {
        missing: missing.map((m) => m.id),
      });
    }
    this.startMonitor();
  }

  /** Stops watching (first step of shutdown). */
  async stopMonitor(): Promise<void> {
    if (!this.monitoring) return;
    this.monitoring = false;
    await this.monitor.stop().catch(() => undefined);
  }

  /** Waits for cleanup, reset and recovery in progress. */
  settle(): Promise<void> {
    return this.recycler.settle();
  }

  standDown(): void {
    this.recycler.standDown();
  }

  /** Stops every container and the runtime; records them Stopped (a leased one keeps its record). Errors are collected, not thrown. */
  async stopAll(errors: unknown[]): Promise<void> {
    const { config, store, runtime, clock } = this.deps;
    // Members still starting: their gates are called off and they are stopped (the runtime stops a member
    // after its start finished); the start tasks end at once after that, so waiting for them costs no gate budget.
    this.stopStarts.abort();
    const stillStarting = [...this.starting.values()];
    if (stillStarting.length) {
      await Promise.allSettled(config.containerSpecs.filter((s) => this.starting.has(s.id)).map((s) => runtime.stop(s.id)));
      await Promise.allSettled(stillStarting);
    }
    const containers = await store.listContainers().catch((e: unknown) => {
      errors.push(e);
      return [] as ContainerRecord[];
    });
    await Promise.allSettled(
      config.containerSpecs.map(async (spec) => {
        await runtime.stop(spec.id).catch((e: unknown) => errors.push(e));
        const record = containers.find((c) => c.id === spec.id);
        if (record && record.state !== 'Stopped' && record.state !== 'Allocated') {
          await store.transition(spec.id, record.state, 'Stopped', clock.now()).catch(() => undefined);
        }
      }),
    );
    await runtime.close().catch((e: unknown) => errors.push(e));
  }

  recycle(containerId: string): Promise<ContainerState> {
    // A sweep over a shared store reclaims expired leases pool-wide and may hand this keeper another host's
    // member: that host's agent cleans it (the reclaim's recycle notice), never this one.
    if (!this.deps.config.containerSpecs.some((s) => s.id === containerId)) return Promise.resolve('Cleaning');
    return this.recycler.recycle(containerId);
  }

  isBusy(containerId: string): boolean {
    return this.recycler.isBusy(containerId);
  }

  /** Resets a container nobody holds (an operator's reset); a leased one is refused. */
  async resetIdle(containerId: string, strategy: ResetStrategy): Promise<ResetResult> {
    const container = await this.deps.store.getContainer(containerId);
    if (container.state === 'Allocated') {
      throw new PoolError('INVALID_TRANSITION', `Container ${containerId} is leased; release it first or reset it through its lease.`, { containerId });
    }
    return this.recycler.resetIdle(containerId, strategy);
  }

  async resetLeased(lease: Lease, strategy: ResetStrategy, holder?: string): Promise<ResetResult> {
    const result = await this.deps.resetter.reset(lease.containerId, strategy);
    if (holder !== undefined) this.deps.emit('resetCompleted', { ...result, actor: holder });
    // A hard reset restarted the guard, which admits no lease until fenced: open it to this holder again. If the
    // guard cannot be told, the holder could not use the member anyway: its lease ends as a failure would end it.
    if (result.success) {
      try {
        await this.recycler.fence(lease.containerId, lease.token);
      } catch (error) {
        await this.handleFailure(lease.containerId, `the guard of ${lease.containerId} could not be reopened after a reset: ${errorMessage(error)}`).catch(() => undefined);
        throw error;
      }
    }
    return result;
  }

  async endpoint(containerId: string): Promise<MemberEndpoint> {
    const { id, name, port } = specOf(this.deps.config.containerSpecs, containerId);
    return { id, name, port, url: `http://localhost:${port}/mcp` };
  }

  leaseCredential(lease: Lease): string {
    return this.deps.credentials.forLease(lease.containerId, lease.leaseId, lease.token);
  }

  readTrace(containerId: string, traceName: string, budgetMs: number): Promise<TraceFile[]> {
    return readTraceFiles(this.deps.runtime, containerId, traceName, budgetMs);
  }

  /**
   * A container failed (died, failed its health check): its lease, if any, ends at once and the holder is
   * told (leaseRevoked); then automatic recovery runs.
   */
  private async handleFailure(containerId: string, reason: string): Promise<void> {
    const { store, clock, emit } = this.deps;
    if (this.deps.phase() !== 'running') return;
    if (this.recycler.isBusy(containerId)) return; // a reset/cleanup in progress owns the container
    const container = await store.getContainer(containerId);
    if (container.state !== 'Allocated' && container.state !== 'Available') return;
    const lease = await store.revoke(containerId, clock.now(), reason);
    emit('containerStateChanged', { containerId, from: container.state, to: 'Unhealthy', error: reason });
    emit('containerUnhealthy', { containerId, consecutiveFailures: container.consecutiveFailures + 1, reason, cause: 'detected', ...(lease ? { leaseId: lease.leaseId } : {}) });
    if (lease) emit('leaseRevoked', { lease, reason });
    void this.recycler.recover(containerId).catch(() => undefined);
  }

  private startMonitor(): void {
    this.monitor.start();
    this.monitoring = true;
  }

  private wireMonitor(): void {
    const { emit, report, logger, store, clock } = this.deps;
    this.monitor.on('containerUnhealthy', ({ containerId, reason }) => {
      const name = specOf(this.deps.config.containerSpecs, containerId).name;
      void this.handleFailure(containerId, `container ${name} ${reason}`).catch((e: unknown) => report(e, `handle failure of ${containerId}`));
    });
    this.monitor.on('usage', ({ containerId, stats }) => {
      void store.recordUsage(containerId, { ...stats, at: clock.now() }).catch((e: unknown) => report(e, `record usage of ${containerId}`));
    });
    this.monitor.on('memoryThresholdExceeded', (event) => {
      emit('memoryThresholdExceeded', event);
      void this.recycler.restartWhenIdle(event.containerId).catch((e: unknown) => report(e, `memory restart of ${event.containerId}`));
    });
    this.monitor.on('zombieProcesses', (event) => {
      logger.warn(`Container ${event.containerId} has ${event.processes.length} defunct process(es): ${event.processes.join(', ')}`);
      emit('zombieProcesses', event);
    });
    this.monitor.on('sessionsLeftOpen', (event) => {
      logger.warn(`Container ${event.containerId} is free but ${event.sessions} MCP session(s) are still open on it.`);
      emit('sessionsLeftOpen', event);
    });
  }
}

function combineStartFailures(failures: unknown[]): PoolError {
  const messages = failures.map(errorMessage);
  const first = failures.find((f) => isPoolError(f));
  return new PoolError(first?.code ?? 'HEALTH_GATE_FAILED', `${failures.length} containers failed to start:\n${messages.map((m) => `  - ${m}`).join('\n')}`, {
    failures: failures.map((f) => (isPoolError(f) ? f.toJSON() : errorMessage(f))),
  });
}
