import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { SystemClock, type Clock, type TimerHandle } from '../clock/clock.js';
import { mergeResourceConfig, mergeTimeoutConfig, type PoolConfig } from '../config/pool-config.js';
import type { ResetStrategy, ResourceConfig, TimeoutConfig } from '../config/schemas.js';
import { CLEANUP_STAGES, type ContainerCleaner, type ContainerResetter, type CleanupResult, type ResetResult } from '../cleanup/cleanup-types.js';
import type { ContainerState } from '../domain/container-state.js';
import { TEST_PRIORITIES, type TestPriority } from '../domain/priority.js';
import { isPoolError, PoolError, type PoolErrorCode } from '../errors/pool-error.js';
import type { HealthGate } from '../health/health-gate.js';
import { healthGateError } from '../health/health-gate-error.js';
import { HealthMonitor } from '../health/health-monitor.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import type { ContainerRecord, Lease, PoolStore, ResourceUsage } from '../store/pool-store.js';
import { parseAllocationRequest, type AllocationRequest, type AllocationRequestInput } from './allocation-request.js';
import { AllocationQueue } from './allocation-queue.js';
import { AuditLog } from './audit-log.js';
import { moveContainer } from './container-state-machine.js';
import { computeAnalytics, type AnalyticsInput, type PoolStatus, type SystemAnalytics } from './pool-analytics.js';
import { SILENT_LOGGER, type PoolEventMap, type PoolEventName, type PoolLogger } from './pool-events.js';
import { renewalTtlMs } from './renewal-ttl.js';
import { ResourceManager, type DegradationChange } from './resource-manager.js';
import { TimeoutManager, type ExtensionDecision } from './timeout-manager.js';
import { readTraceFiles, type TraceFile } from '../cleanup/trace-files.js';

export interface ContainerPoolManagerDeps {
  /** Parsed config: `parsePoolOptions(options)`. */
  config: PoolConfig;
  store: PoolStore;
  runtime: ContainerRuntime;
  health: HealthGate;
  cleaner: ContainerCleaner;
  resetter: ContainerResetter;
  clock?: Clock;
  /** Identifies this run in container labels and audit events. @defaultValue a random id */
  runId?: string;
  logger?: PoolLogger;
}

export interface Allocation {
  lease: Lease;
  container: { id: string; name: string; port: number; url: string };
  /** From the first request to the grant, ms. */
  waitMs: number;
  attempts: number;
}

export interface LeaseRef {
  leaseId: string;
  token: number;
}

export interface ReleaseResult {
  lease: Lease;
  heldMs: number;
  /** Settles once the container is clean and back in the pool (or sent to reset). */
  recycled: Promise<ContainerState>;
}

export interface ExtensionOptions {
  requestedMs?: number;
  currentTimeoutMs?: number;
  /** When given, the extension is refused (STALE_TOKEN) unless this lease is active with this token. */
  lease?: LeaseRef;
}

/** Failure categories of the analytics. */
export type FailureCategory = 'timeout' | 'resource' | 'system';

const RESOURCE_CODES: readonly PoolErrorCode[] = ['POOL_DEGRADED', 'CONCURRENCY_LIMIT', 'UNSATISFIABLE_REQUEST', 'POOL_EXHAUSTED'];
const CALLER_CODES: readonly PoolErrorCode[] = ['INVALID_OPTIONS', 'INVALID_PRIORITY', 'INVALID_ARGUMENT', 'DUPLICATE_REQUEST', 'ALLOCATION_CANCELLED'];
/** How many times in a row recovery is tried before a container is left Unhealthy (quarantined). */
const MAX_RECOVERY_ATTEMPTS = 3;
/** Backoff of a container move retried through a store outage: 50 ms, doubling, at most 1 s between tries. */
const MOVE_RETRY_FIRST_MS = 50;
const MOVE_RETRY_MAX_MS = 1_000;


/**
 * The pool: a fixed set of containers handed out one lease at a time in priority order, cleaned between
 * holders, recovered when they fail, with timeouts from history and analytics over everything.
 * State lives in the injected PoolStore; containers are reached only through the injected runtime.
 */
export class ContainerPoolManager extends EventEmitter {
  readonly config: PoolConfig;
  readonly runId: string;
  readonly store: PoolStore;
  readonly timeouts: TimeoutManager;
  readonly resources: ResourceManager;
  private readonly runtime: ContainerRuntime;
  private readonly health: HealthGate;
  private readonly cleaner: ContainerCleaner;
  private readonly resetter: ContainerResetter;
  private readonly clock: Clock;
  private readonly logger: PoolLogger;
  private readonly audit: AuditLog;
  private readonly queue: AllocationQueue;
  /** Background work per container (cleanup, reset, recovery): one at a time. */
  private readonly pipelines = new Map<string, Promise<unknown>>();
  private readonly recoveryAttempts = new Map<string, number>();
  private phase: 'new' | 'starting' | 'running' | 'closing' | 'closed' = 'new';
  private sweepTimer: TimerHandle | undefined;
  private sweeping = false;
  private dispatching: Promise<void> | undefined;
  private dispatchAgain = false;
  private readonly monitor: HealthMonitor;
  /** Containers over their memory threshold while leased: restarted (with cleanup) once released. */
  private readonly restartWhenFree = new Set<string>();
  private monitoring = false;
  private closing: Promise<void> | undefined;
  private startedAt = 0;

  constructor(deps: ContainerPoolManagerDeps) {
    super();
    this.config = deps.config;
    this.store = deps.store;
    this.runtime = deps.runtime;
    this.health = deps.health;
    this.cleaner = deps.cleaner;
    this.resetter = deps.resetter;
    this.clock = deps.clock ?? new SystemClock();
    this.runId = deps.runId ?? randomUUID().slice(0, 8);
    this.logger = deps.logger ?? SILENT_LOGGER;
    this.timeouts = new TimeoutManager(this.store, this.config.timeouts);
    this.resources = new ResourceManager(this.config.resources, this.clock);
    this.audit = new AuditLog(this.store, this.clock, {
      onError: (error) => this.report(error, 'audit flush'),
    });
    this.queue = new AllocationQueue({
      store: this.store,
      clock: this.clock,
      leaseTtlMs: () => this.config.lease.ttlMs,
      maxConcurrent: () => this.resources.settings.maxConcurrentAllocations,
      returnUnwanted: (lease) => this.returnUnwanted(lease),
      report: (error, context) => this.report(error, context),
    });
    this.monitor = new HealthMonitor({
      runtime: this.runtime,
      health: this.health,
      clock: this.clock,
      config: this.config.health,
      targets: async () =>
        (await this.store.listContainers()).map((c) => ({ id: c.id, port: c.port, state: c.state, memoryLimitMB: c.limits.memoryMB })),
      onError: (error, context) => this.report(error, context),
    });
    this.wireMonitor();
  }

  private wireMonitor(): void {
    this.monitor.on('containerUnhealthy', ({ containerId, reason }) => {
      void this.handleContainerFailure(containerId, `container ${this.spec(containerId).name} ${reason}`).catch((e: unknown) =>
        this.report(e, `handle failure of ${containerId}`),
      );
    });
    this.monitor.on('usage', ({ containerId, stats }) => {
      void this.recordUsage(containerId, stats).catch((e: unknown) => this.report(e, `record usage of ${containerId}`));
    });
    this.monitor.on('memoryThresholdExceeded', (event) => {
      this.emit('memoryThresholdExceeded', event);
      this.audit.record({ type: 'memory-threshold-exceeded', actor: 'health-monitor', containerId: event.containerId, outcome: 'failed', detail: { ...event } });
      void this.restartWhenIdle(event.containerId).catch((e: unknown) => this.report(e, `memory restart of ${event.containerId}`));
    });
    this.monitor.on('zombieProcesses', (event) => {
      this.logger.warn(`Container ${event.containerId} has ${event.processes.length} defunct process(es): ${event.processes.join(', ')}`);
      this.audit.record({ type: 'zombie-processes', actor: 'health-monitor', containerId: event.containerId, outcome: 'failed', detail: { ...event } });
    });
    this.monitor.on('sessionsLeftOpen', (event) => {
      this.logger.warn(`Container ${event.containerId} is free but ${event.sessions} MCP session(s) are still open on it.`);
      this.audit.record({ type: 'sessions-left-open', actor: 'health-monitor', containerId: event.containerId, outcome: 'failed', detail: { ...event } });
    });
  }

  private async stillOverMemory(containerId: string): Promise<boolean> {
    try {
      const stats = await this.runtime.stats(containerId);
      const spec = this.spec(containerId);
      return stats.memoryMB > (this.config.health.memoryThresholdMB ?? spec.memoryMB * 0.9);
    } catch (error) {
      this.report(error, `memory re-check of ${containerId}`);
      return true;
    }
  }

  /** Restarts a container over its memory threshold (with cleanup) now if nobody holds it, else at its release. */
  private async restartWhenIdle(containerId: string): Promise<void> {
    const container = await this.store.getContainer(containerId);
    if (container.state === 'Allocated') {
      this.restartWhenFree.add(containerId);
      return;
    }
    if (container.state === 'Available' && !this.pipelines.has(containerId)) await this.resetContainer(containerId, 'hard');
  }

  override emit<K extends PoolEventName>(event: K, payload: PoolEventMap[K]): boolean {
    return super.emit(event, payload);
  }

  override on<K extends PoolEventName>(event: K, listener: (payload: PoolEventMap[K]) => void): this {
    return super.on(event, listener);
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Removes leftovers of crashed runs, starts every container, gates each on all health stages and opens
   * the pool. If any container fails, everything started is stopped again and the error names the
   * container, the stage and the fix.
   */
  async initialize(): Promise<void> {
    if (this.phase !== 'new') throw new PoolError('INVALID_ARGUMENT', `initialize() was already called (pool is ${this.phase}).`);
    this.phase = 'starting';
    const t0 = this.clock.monotonic();
    const ctx = { poolId: this.config.poolId, runId: this.runId };
    const started: string[] = [];
    try {
      const reaped = await this.runtime.reapLeftovers(ctx);
      if (reaped.length) this.logger.warn(`Removed ${reaped.length} container(s) left by an earlier run: ${reaped.join(', ')}`);
      await this.store.registerContainers(this.config.containerSpecs, this.clock.now());
      this.monitor.start();
      this.monitoring = true;
      const results = await Promise.allSettled(
        this.config.containerSpecs.map(async (spec) => {
          await this.runtime.start(spec, ctx);
          started.push(spec.id);
          const report = await this.health.isContainerReady(spec.port, spec.id, { timeoutMs: this.config.health.startupTimeoutMs, starting: true });
          if (!report.ready) throw healthGateError(report, { containerName: spec.name });
          await this.move(spec.id, 'Starting', 'Available');
          this.emit('containerHealthy', { containerId: spec.id, report });
        }),
      );
      const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      if (failures.length) throw failures.length === 1 ? failures[0] : combineStartFailures(failures);
    } catch (error) {
      await this.monitor.stop();
      this.monitoring = false;
      await Promise.allSettled(started.map((id) => this.runtime.stop(id)));
      this.phase = 'closed';
      throw error;
    }
    this.open();
    const durationMs = Math.round(this.clock.monotonic() - t0);
    this.audit.record({ type: 'pool-started', actor: 'coordinator', outcome: 'ok', detail: { containers: started.length, durationMs, runId: this.runId } });
    this.emit('initialized', { containers: started.length, durationMs });
  }

  /**
   * Takes over a pool whose containers are already running and whose state is in the store (a coordinator
   * restarted on the same Redis): leases, queue and history carry on; nothing is restarted.
   */
  async resume(): Promise<void> {
    if (this.phase !== 'new') throw new PoolError('INVALID_ARGUMENT', `resume() was already called (pool is ${this.phase}).`);
    const known = await this.store.listContainers();
    const missing = this.config.containerSpecs.filter((s) => !known.some((k) => k.id === s.id));
    if (missing.length) {
      throw new PoolError('CORRUPT_STATE', `Cannot resume: the store knows no record of ${missing.map((m) => m.id).join(', ')}. Start the pool with initialize().`, {
        missing: missing.map((m) => m.id),
      });
    }
    this.monitor.start();
    this.monitoring = true;
    this.open();
    this.audit.record({ type: 'pool-resumed', actor: 'coordinator', outcome: 'ok', detail: { runId: this.runId } });
  }

  private open(): void {
    this.phase = 'running';
    this.startedAt = this.clock.now();
    this.scheduleSweep();
    this.kick();
  }

  /** Stops everything: waiting requests fail with POOL_SHUT_DOWN, containers stop. Safe to call twice. */
  shutdown(): Promise<void> {
    this.closing ??= this.doShutdown();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  private async doShutdown(): Promise<void> {
    const wasRunning = this.phase === 'running';
    this.phase = 'closing';
    if (this.sweepTimer) this.clock.clearTimeout(this.sweepTimer);
    if (this.monitoring) await this.monitor.stop().catch(() => undefined);
    const errors: unknown[] = [];
    await this.queue.rejectAll(new PoolError('POOL_SHUT_DOWN', 'The pool shut down while this request was waiting.'));
    await Promise.allSettled([...this.pipelines.values()]);
    if (wasRunning) this.audit.record({ type: 'pool-stopped', actor: 'coordinator', outcome: 'ok' });
    await this.audit.flush().catch((e: unknown) => errors.push(e));
    const containers = await this.store.listContainers().catch((e: unknown) => {
      errors.push(e);
      return [] as ContainerRecord[];
    });
    await Promise.allSettled(
      this.config.containerSpecs.map(async (spec) => {
        await this.runtime.stop(spec.id).catch((e: unknown) => errors.push(e));
        const record = containers.find((c) => c.id === spec.id);
        if (record && record.state !== 'Stopped' && record.state !== 'Allocated') {
          await this.store.transition(spec.id, record.state, 'Stopped', this.clock.now()).catch(() => undefined);
        }
      }),
    );
    await this.runtime.close().catch((e: unknown) => errors.push(e));
    this.phase = 'closed';
    for (const e of errors) this.logger.warn(`shutdown: ${e instanceof Error ? e.message : String(e)}`);
  }

  // ---------------------------------------------------------------- allocation

  /** Allocates a container for `testRunId` at normal priority. */
  allocateContainer(testRunId: string): Promise<Allocation> {
    return this.allocateContainerAdvanced({ testRunId });
  }

  /**
   * Waits in the queue (priority, then arrival) for a container that meets the request, at most
   * `timeoutMs` per try and `maxRetries` further tries. Bad input fails at once and queues nothing.
   */
  async allocateContainerAdvanced(input: AllocationRequestInput): Promise<Allocation> {
    let request: AllocationRequest | undefined;
    try {
      this.assertRunning();
      request = parseAllocationRequest(input, this.resources.settings.maxWaitTimeMs);
      this.resources.admit(request.priority, request.testRunId);
      const requestedAt = this.clock.now();
      let lease: Lease | undefined;
      let attempt = 0;
      for (; ; attempt++) {
        try {
          lease = await this.queue.waitForGrant(request, attempt, requestedAt);
          break;
        } catch (error) {
          if (!isPoolError(error, 'ALLOCATION_TIMEOUT') || attempt >= request.maxRetries) throw error;
          this.audit.record({ type: 'allocation-retry', actor: request.testRunId, outcome: 'failed', detail: { attempt: attempt + 1 } });
        }
      }
      const waitMs = Math.max(0, lease.grantedAt - requestedAt);
      this.resources.recordAllocation(waitMs);
      const container = this.config.containerSpecs.find((s) => s.id === lease.containerId)!;
      this.audit.record({
        at: lease.grantedAt,
        type: 'allocated',
        actor: request.testRunId,
        containerId: lease.containerId,
        outcome: 'ok',
        detail: { leaseId: lease.leaseId, token: lease.token, priority: request.priority, requestedAt, waitMs, attempts: attempt + 1 },
      });
      this.emit('containerAllocated', { lease, waitMs });
      if (this.config.cleanup.resetOnAllocation !== 'none') await this.resetter.reset(lease.containerId, this.config.cleanup.resetOnAllocation);
      return {
        lease,
        container: { id: container.id, name: container.name, port: container.port, url: `http://localhost:${container.port}/mcp` },
        waitMs,
        attempts: attempt + 1,
      };
    } catch (error) {
      this.recordAllocationFailure(input, request, error);
      throw error;
    }
  }

  /** Cancels a waiting request (its allocate call fails with ALLOCATION_CANCELLED). */
  cancelRequest(requestId: string): Promise<boolean> {
    return this.queue.cancel(requestId, new PoolError('ALLOCATION_CANCELLED', `Request ${requestId} was cancelled while waiting.`, { requestId }));
  }

  private async returnUnwanted(lease: Lease): Promise<void> {
    try {
      await this.store.release(lease.leaseId, lease.token, this.clock.now());
      this.audit.record({ type: 'released', actor: 'coordinator', containerId: lease.containerId, outcome: 'ok', detail: { leaseId: lease.leaseId, heldMs: 0, unwanted: true } });
      void this.startPipeline(lease.containerId, () => this.recycle(lease.containerId)).catch(() => undefined);
    } catch (error) {
      this.report(error, `return unwanted lease on ${lease.containerId}`);
    }
  }

  private recordAllocationFailure(input: AllocationRequestInput, request: AllocationRequest | undefined, error: unknown): void {
    const code = isPoolError(error) ? error.code : undefined;
    if (code && CALLER_CODES.includes(code)) {
      this.audit.record({ type: 'allocation-refused', actor: safeActor(input), outcome: 'refused', detail: { code, message: (error as Error).message } });
      return;
    }
    const category: FailureCategory = code === 'ALLOCATION_TIMEOUT' ? 'timeout' : code && RESOURCE_CODES.includes(code) ? 'resource' : 'system';
    // Refusals by degradation itself must not feed the failure rate, or degradation would sustain itself.
    if (code !== 'POOL_DEGRADED') this.resources.recordFailure();
    void this.store.incrementCounter('failedAllocations').catch((e: unknown) => this.report(e, 'count failed allocation'));
    this.audit.record({
      type: 'allocation-failed',
      actor: safeActor(input),
      outcome: 'failed',
      detail: { category, code: code ?? 'UNKNOWN', message: error instanceof Error ? error.message : String(error), priority: request?.priority },
    });
  }

  // ---------------------------------------------------------------- leases

  /** Renews for `lease.ttlMs`, or for up to `lease.debugTtlMs` when asked (a worker being debugged). */
  renewLease(lease: LeaseRef, options: { ttlMs?: number } = {}): Promise<Lease> {
    this.assertRunning();
    assertLeaseRef(lease);
    return this.store.renew(lease.leaseId, lease.token, this.clock.now(), renewalTtlMs(this.config.lease, options.ttlMs));
  }

  /**
   * Ends a lease and recycles its container (cleanup, or reset when cleanup fails). Give the lease
   * (token-checked), or a container id to release whatever lease it holds (an operator's override).
   */
  async releaseContainer(target: string | LeaseRef): Promise<ReleaseResult> {
    this.assertRunning();
    let ref: LeaseRef;
    if (typeof target === 'string') {
      const container = await this.store.getContainer(target);
      if (container.state !== 'Allocated' || !container.leaseId) {
        throw new PoolError('ALREADY_RELEASED', `Container ${target} holds no lease (it is ${container.state}); nothing to release.`, {
          containerId: target,
          state: container.state,
        });
      }
      const lease = await this.store.getLease(container.leaseId);
      ref = { leaseId: lease.leaseId, token: lease.token };
    } else {
      assertLeaseRef(target);
      ref = target;
    }
    const now = this.clock.now();
    const lease = await this.store.release(ref.leaseId, ref.token, now);
    const heldMs = now - lease.grantedAt;
    this.audit.record({ type: 'released', actor: lease.testRunId, containerId: lease.containerId, outcome: 'ok', detail: { leaseId: lease.leaseId, heldMs, priority: lease.priority } });
    this.emit('containerReleased', { lease, heldMs });
    const recycled = this.startPipeline(lease.containerId, () => this.recycle(lease.containerId));
    return { lease, heldMs, recycled };
  }

  async requestTimeoutExtension(testRunId: string, justification: string, options: ExtensionOptions = {}): Promise<ExtensionDecision> {
    this.assertRunning();
    if (typeof testRunId !== 'string' || testRunId.length === 0) {
      throw new PoolError('INVALID_ARGUMENT', 'requestTimeoutExtension needs a testRunId.', { testRunId });
    }
    if (options.lease) {
      assertLeaseRef(options.lease);
      const lease = await this.store.getLease(options.lease.leaseId);
      if (lease.token !== options.lease.token) {
        throw new PoolError('STALE_TOKEN', `Token ${options.lease.token} does not hold lease ${lease.leaseId}; extension refused and nothing changed.`, {
          leaseId: lease.leaseId,
          containerId: lease.containerId,
        });
      }
    }
    const decision = await this.timeouts.requestExtension({
      testRunId,
      justification,
      ...(options.requestedMs !== undefined ? { requestedMs: options.requestedMs } : {}),
      ...(options.currentTimeoutMs !== undefined ? { currentTimeoutMs: options.currentTimeoutMs } : {}),
    });
    this.audit.record({
      type: 'extension',
      actor: testRunId,
      outcome: decision.granted ? 'ok' : 'refused',
      detail: { ...decision, requestedMs: options.requestedMs ?? null, justification: String(justification).slice(0, 500) },
    });
    this.emit('extensionDecided', { testRunId, decision, justification: String(justification) });
    return decision;
  }

  /** Records how long a test ran (feeds adaptive timeouts). */
  recordExecution(testId: string, durationMs: number): Promise<void> {
    return this.timeouts.recordExecution(testId, durationMs);
  }

  // ---------------------------------------------------------------- cleanup, reset, failure

  /** Runs the six-stage cleanup on a container that is Cleaning (after release); usually internal. */
  cleanupContainer(containerId: string): Promise<ContainerState> {
    this.assertRunning();
    return this.startPipeline(containerId, () => this.recycle(containerId));
  }

  /**
   * Resets a container that is not leased: Available → (taken out) → reset → Available. A leased
   * container is reset by its holder through the lease (the fixture's reset()); here that is refused.
   */
  async resetContainer(containerId: string, strategy: ResetStrategy = 'hard'): Promise<ResetResult> {
    this.assertRunning();
    const container = await this.store.getContainer(containerId);
    if (container.state === 'Allocated') {
      throw new PoolError('INVALID_TRANSITION', `Container ${containerId} is leased; release it first or reset it through its lease.`, { containerId });
    }
    return this.startPipeline(containerId, async () => {
      const current = await this.store.getContainer(containerId);
      if (current.state === 'Available') await this.move(containerId, 'Available', 'Unhealthy', `reset (${strategy}) requested`);
      if ((await this.store.getContainer(containerId)).state === 'Unhealthy') await this.move(containerId, 'Unhealthy', 'Resetting');
      return this.runReset(containerId, strategy);
    });
  }

  /** Resets the container of an active lease in place (the holder keeps it). */
  async resetLeased(lease: LeaseRef, strategy: ResetStrategy): Promise<ResetResult> {
    this.assertRunning();
    assertLeaseRef(lease);
    const active = await this.store.getLease(lease.leaseId);
    if (active.token !== lease.token) {
      throw new PoolError('STALE_TOKEN', `Token ${lease.token} does not hold lease ${lease.leaseId}; reset refused.`, { leaseId: lease.leaseId });
    }
    const result = await this.resetter.reset(active.containerId, strategy);
    this.recordReset(result, active.testRunId);
    return result;
  }

  /**
   * Reads a trace the holder's MCP session recorded in its container (src/cleanup/trace-files.ts): only the
   * holder of an active lease may, and only its own container's trace folder.
   */
  async readLeasedTrace(lease: LeaseRef, traceName: string, budgetMs: number): Promise<TraceFile[]> {
    this.assertRunning();
    assertLeaseRef(lease);
    const active = await this.store.getLease(lease.leaseId);
    if (active.token !== lease.token) {
      throw new PoolError('STALE_TOKEN', `Token ${lease.token} does not hold lease ${lease.leaseId}; reading its trace refused.`, { leaseId: lease.leaseId });
    }
    return readTraceFiles(this.runtime, active.containerId, traceName, budgetMs);
  }

  /**
   * A container failed (died, failed its health check): its lease, if any, ends at once and the holder is
   * told (leaseRevoked); then automatic recovery runs.
   */
  async handleContainerFailure(containerId: string, reason: string): Promise<void> {
    if (this.phase !== 'running') return;
    if (this.pipelines.has(containerId)) return; // a reset/cleanup in progress owns the container
    const container = await this.store.getContainer(containerId);
    if (container.state !== 'Allocated' && container.state !== 'Available') return;
    const lease = await this.store.revoke(containerId, this.clock.now(), reason);
    this.emit('containerStateChanged', { containerId, from: container.state, to: 'Unhealthy', error: reason });
    const failures = container.consecutiveFailures + 1;
    this.emit('containerUnhealthy', { containerId, consecutiveFailures: failures, reason });
    this.audit.record({ type: 'container-unhealthy', actor: 'health-monitor', containerId, outcome: 'failed', detail: { reason, leaseId: lease?.leaseId } });
    if (lease) {
      this.audit.record({ type: 'lease-revoked', actor: lease.testRunId, containerId, outcome: 'failed', detail: { leaseId: lease.leaseId, reason } });
      this.emit('leaseRevoked', { lease, reason });
    }
    void this.startPipeline(containerId, () => this.recover(containerId)).catch(() => undefined);
  }

  /** Latest measured resource use of a container (from the health monitor); used for matching requirements. */
  recordUsage(containerId: string, usage: Omit<ResourceUsage, 'at'>): Promise<void> {
    return this.store.recordUsage(containerId, { ...usage, at: this.clock.now() });
  }

  /** Cleaning → cleanup → Available, or → Resetting → reset when cleanup fails. */
  private async recycle(containerId: string): Promise<ContainerState> {
    const level = this.resources.cleanupLevel();
    let result: CleanupResult;
    try {
      result = await this.cleaner.cleanup(containerId, level);
    } catch (error) {
      result = { containerId, success: false, durationMs: 0, stages: [{ stage: 'terminateBrowserProcesses', success: false, durationMs: 0, error: errorMessage(error) }] };
    }
    this.audit.record({
      type: 'cleanup',
      actor: 'coordinator',
      containerId,
      outcome: result.success ? 'ok' : 'failed',
      detail: { level, durationMs: result.durationMs, failed: result.stages.filter((s) => !s.success).map((s) => `${s.stage}: ${s.error ?? 'failed'}`) },
    });
    this.emit('cleanupCompleted', result);
    // Cleanup ends the browser, which frees most memory: restart only if the container is still over its threshold.
    const overMemory = this.restartWhenFree.delete(containerId) && result.success && (await this.stillOverMemory(containerId));
    if (result.success && this.config.cleanup.resetOnRelease === 'none' && !overMemory) {
      await this.move(containerId, 'Cleaning', 'Available');
      this.kick();
      return 'Available';
    }
    const why = result.success ? (overMemory ? 'memory threshold exceeded: restart' : undefined) : `cleanup failed: ${result.stages.filter((s) => !s.success).map((s) => s.stage).join(', ') || 'error'}`;
    await this.move(containerId, 'Cleaning', 'Resetting', why);
    // A client still holding its MCP session survives a browser restart: only a hard reset (restart) drops it.
    const sessionsOpen = (result.stages.find((st) => st.stage === 'validateCleanup')?.openSessions ?? 0) > 0;
    // A container that cannot run a cleanup script in time cannot run the in-container resets either.
    const stuck = result.stages.some((st) => st.stuck);
    const strategy: ResetStrategy =
      overMemory || sessionsOpen || stuck ? 'hard' : result.success ? (this.config.cleanup.resetOnRelease as ResetStrategy) : 'medium';
    const reset = await this.runReset(containerId, strategy);
    return reset.success ? 'Available' : (await this.store.getContainer(containerId)).state;
  }

  /** Unhealthy → Resetting → reset (escalating) → Available, or Starting → restart → health gate. */
  private async recover(containerId: string): Promise<ContainerState> {
    const attempts = (this.recoveryAttempts.get(containerId) ?? 0) + 1;
    this.recoveryAttempts.set(containerId, attempts);
    if (attempts > MAX_RECOVERY_ATTEMPTS) {
      this.logger.error(`Container ${containerId} failed ${MAX_RECOVERY_ATTEMPTS} recoveries in a row; it stays Unhealthy (quarantined). Check its logs.`);
      this.audit.record({ type: 'container-quarantined', actor: 'coordinator', containerId, outcome: 'failed', detail: { attempts: attempts - 1 } });
      return 'Unhealthy';
    }
    const t0 = this.clock.monotonic();
    await this.move(containerId, 'Unhealthy', 'Resetting');
    const result = await this.runReset(containerId, this.config.cleanup.resetOnHealthFailure);
    if (result.success) {
      this.recoveryAttempts.delete(containerId);
      this.emit('containerRecovered', { containerId, durationMs: Math.round(this.clock.monotonic() - t0) });
      return 'Available';
    }
    return (await this.store.getContainer(containerId)).state;
  }

  /** With the container in Resetting: reset (the resetter escalates), then health-gate it back into the pool. */
  private async runReset(containerId: string, strategy: ResetStrategy): Promise<ResetResult> {
    let result: ResetResult;
    try {
      result = await this.resetter.reset(containerId, strategy);
    } catch (error) {
      result = { containerId, requested: strategy, success: false, durationMs: 0, attempts: [{ strategy, success: false, durationMs: 0, error: errorMessage(error) }] };
    }
    this.recordReset(result, 'coordinator');
    const spec = this.spec(containerId);
    const report = result.success ? await this.health.isContainerReady(spec.port, containerId, { timeoutMs: this.config.health.startupTimeoutMs, starting: true }) : undefined;
    if (report?.ready) {
      await this.move(containerId, 'Resetting', 'Available');
      this.emit('containerHealthy', { containerId, report });
      this.kick();
      return result;
    }
    // Every strategy failed (or the container is not healthy after it): restart it from scratch.
    const reason = report ? `health stage ${report.failedStage} failed after reset` : `reset failed: ${result.attempts.at(-1)?.error ?? 'unknown'}`;
    await this.move(containerId, 'Resetting', 'Starting', reason);
    try {
      await this.runtime.recreate(containerId);
      const gate = await this.health.isContainerReady(spec.port, containerId, { timeoutMs: this.config.health.startupTimeoutMs, starting: true });
      if (!gate.ready) throw healthGateError(gate, { containerName: spec.name });
      await this.move(containerId, 'Starting', 'Available');
      this.emit('containerHealthy', { containerId, report: gate });
      this.kick();
      return { ...result, success: true, applied: 'recovery' };
    } catch (error) {
      await this.move(containerId, 'Starting', 'Unhealthy', errorMessage(error)).catch(() => undefined);
      this.report(error, `recreate ${containerId}`);
      const record = await this.store.getContainer(containerId).catch(() => undefined);
      this.emit('containerUnhealthy', { containerId, consecutiveFailures: record?.consecutiveFailures ?? 0, reason: errorMessage(error) });
      // Try again later through recovery (bounded by MAX_RECOVERY_ATTEMPTS).
      this.clock.setTimeout(() => void this.startPipeline(containerId, () => this.recover(containerId)).catch(() => undefined), this.config.health.healthCheckIntervalMs);
      return { ...result, success: false };
    }
  }

  private recordReset(result: ResetResult, actor: string): void {
    this.audit.record({
      type: 'reset',
      actor,
      containerId: result.containerId,
      outcome: result.success ? 'ok' : 'failed',
      detail: { requested: result.requested, applied: result.applied, durationMs: result.durationMs, attempts: result.attempts.length },
    });
    this.emit('resetCompleted', result);
  }

  private startPipeline<T>(containerId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.pipelines.get(containerId) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(work);
    const tracked = run.catch((error: unknown) => {
      this.report(error, `container ${containerId}`);
    });
    this.pipelines.set(containerId, tracked);
    void tracked.finally(() => {
      if (this.pipelines.get(containerId) === tracked) this.pipelines.delete(containerId);
    });
    return run;
  }

  // ---------------------------------------------------------------- dispatch and sweep

  /** Runs a dispatch pass soon; passes never overlap and a request during one triggers one more. */
  private kick(): void {
    if (this.phase !== 'running') return;
    if (this.dispatching) {
      this.dispatchAgain = true;
      return;
    }
    this.dispatching = (async () => {
      do {
        this.dispatchAgain = false;
        try {
          this.queue.deliver(await this.store.dispatch(this.clock.now(), this.config.lease.ttlMs));
        } catch (error) {
          this.report(error, 'dispatch');
        }
      } while (this.dispatchAgain && this.phase === 'running');
      this.dispatching = undefined;
    })();
  }

  private scheduleSweep(): void {
    if (this.phase !== 'running') return;
    this.sweepTimer = this.clock.setTimeout(() => {
      void this.sweep().finally(() => this.scheduleSweep());
    }, this.config.lease.sweepIntervalMs);
  }

  /** Reclaims expired leases, drops orphaned queue entries, re-evaluates degradation. */
  async sweep(): Promise<void> {
    if (this.sweeping || this.phase !== 'running') return;
    this.sweeping = true;
    try {
      const now = this.clock.now();
      const expired = await this.store.reclaimExpired(now);
      for (const lease of expired) {
        this.audit.record({ type: 'lease-expired', actor: lease.testRunId, containerId: lease.containerId, outcome: 'failed', detail: { leaseId: lease.leaseId, expiresAt: lease.expiresAt } });
        this.emit('leaseExpired', { lease });
        this.logger.warn(`Lease of ${lease.testRunId} on ${lease.containerId} expired (no heartbeat); the container is reclaimed.`);
        void this.startPipeline(lease.containerId, () => this.recycle(lease.containerId)).catch(() => undefined);
      }
      await this.adoptOrphanedCleanups(now);
      const queue = await this.store.listQueue();
      // Requests past their deadline with no waiter here: their coordinator is gone (crash, restart).
      for (const q of queue) {
        if (q.deadline <= now && !this.queue.has(q.requestId)) {
          const result = await this.store.cancel(q.requestId);
          if (result.status === 'cancelled') await this.store.incrementCounter('cancelledRequests');
        }
      }
      const change = this.resources.evaluate(queue.filter((q) => q.deadline > now).length);
      if (change) this.onDegradationChange(change);
      this.kick();
    } catch (error) {
      this.report(error, 'sweep');
    } finally {
      this.sweeping = false;
    }
  }

  /**
   * A container in Cleaning with no cleanup running here, for longer than a whole cleanup may take: its
   * release or expiry reached the store but the reply did not reach us (Redis restarted mid-call, so the
   * holder's retry only hears ALREADY_RELEASED), or the coordinator cleaning it died. Nobody else will ever
   * move it on, so it is cleaned here. The wait leaves a live cleanup of another coordinator on the same store
   * time to finish (each of its stages is bounded by cleanup.stageTimeoutMs); should both finish, the store's
   * compare-and-set lets only one of them move the container.
   */
  private async adoptOrphanedCleanups(now: number): Promise<void> {
    const orphanAfterMs = CLEANUP_STAGES.length * this.config.cleanup.stageTimeoutMs;
    for (const c of await this.store.listContainers()) {
      if (c.state !== 'Cleaning' || this.pipelines.has(c.id) || now - c.stateChangedAt < orphanAfterMs) continue;
      this.logger.warn(`Container ${c.id} was left in Cleaning for ${Math.round((now - c.stateChangedAt) / 1000)} s with no cleanup running; cleaning it now.`);
      this.audit.record({ type: 'cleanup-adopted', actor: 'coordinator', containerId: c.id, outcome: 'ok', detail: { since: c.stateChangedAt } });
      void this.startPipeline(c.id, () => this.recycle(c.id)).catch(() => undefined);
    }
  }

  private onDegradationChange(change: DegradationChange): void {
    if (change.type === 'degradationStarted') {
      this.logger.warn(`Pool degraded (${change.reasons.join(', ')}): LOW requests are refused and cleanup is minimal until load falls.`);
      this.emit('degradationStarted', change);
    } else {
      this.logger.info(`Pool back to normal after ${Math.round(change.durationMs / 1000)} s of degradation.`);
      this.emit('degradationEnded', change);
    }
    this.audit.record({ type: change.type === 'degradationStarted' ? 'degradation-started' : 'degradation-ended', actor: 'resource-manager', outcome: 'ok', detail: { ...change } });
  }

  // ---------------------------------------------------------------- reporting

  async getPoolStatus(): Promise<PoolStatus> {
    const [containers, queue, leases, counters] = await Promise.all([
      this.store.listContainers(),
      this.store.listQueue(),
      this.store.listLeases(),
      this.store.getCounters(),
    ]);
    const byPriority = Object.fromEntries(TEST_PRIORITIES.map((p) => [p, queue.filter((q) => q.priority === p).length])) as Record<TestPriority, number>;
    // Status is cheap: the pool metrics need no audit trail or history.
    const analytics = this.analyticsOf({ containers, queue, leases, counters, audit: [], executions: [] });
    return {
      metrics: analytics.poolMetrics,
      queue: { size: queue.length, byPriority, requests: queue.map((q) => ({ requestId: q.requestId, testRunId: q.testRunId, priority: q.priority, requestedAt: q.requestedAt })) },
      containers: containers.map((c) => ({
        id: c.id,
        name: c.name,
        port: c.port,
        state: c.state,
        since: c.stateChangedAt,
        ...(c.leaseId ? { holder: leases.find((l) => l.leaseId === c.leaseId)?.testRunId } : {}),
        consecutiveFailures: c.consecutiveFailures,
        ...(c.lastError ? { lastError: c.lastError } : {}),
        ...(c.usage ? { usage: c.usage } : {}),
      })),
      leases,
      degradation: this.resources.state(),
    };
  }

  async getSystemAnalytics(): Promise<SystemAnalytics> {
    await this.audit.flush();
    const [containers, queue, leases, counters, audit, executions] = await Promise.all([
      this.store.listContainers(),
      this.store.listQueue(),
      this.store.listLeases(),
      this.store.getCounters(),
      this.store.listAudit(),
      this.store.getExecutions(),
    ]);
    return this.analyticsOf({ containers, queue, leases, counters, audit, executions });
  }

  private analyticsOf(records: Pick<AnalyticsInput, 'containers' | 'queue' | 'leases' | 'counters' | 'audit' | 'executions'>): SystemAnalytics {
    return computeAnalytics({
      ...records,
      now: this.clock.now(),
      startedAt: this.startedAt,
      resources: this.resources.settings,
      timeouts: this.timeouts.settings,
      degradation: this.resources.state(),
    });
  }

  /** Every audit event so far (flushed first). */
  async getAuditLog() {
    await this.audit.flush();
    return this.store.listAudit();
  }

  updateResourceConfig(patch: Partial<ResourceConfig>): ResourceConfig {
    const next = mergeResourceConfig(this.resources.settings, patch);
    this.resources.updateConfig(next);
    this.audit.record({ type: 'config-updated', actor: 'operator', outcome: 'ok', detail: { resources: patch } });
    return next;
  }

  updateTimeoutConfig(patch: Partial<TimeoutConfig>): TimeoutConfig {
    const next = mergeTimeoutConfig(this.timeouts.settings, patch);
    this.timeouts.updateConfig(next);
    this.audit.record({ type: 'config-updated', actor: 'operator', outcome: 'ok', detail: { timeouts: patch } });
    return next;
  }

  // ---------------------------------------------------------------- helpers

  /**
   * Moves a container on. The moves after a release, expiry or failure (Cleaning → Available, Resetting →
   * Available, ...) are made by this process's pipeline alone: if the store is briefly unreachable (a Redis
   * restart) and the move is dropped, nobody ever moves that container again and it is lost to the pool. So a
   * STORE_UNAVAILABLE move is retried until the store answers (or the pool closes); a retry that finds the move
   * already made (the first reply was lost with the connection) counts as done.
   */
  private async move(containerId: string, from: ContainerState, to: ContainerState, error?: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await moveContainer(this.store, containerId, from, to, this.clock.now(), error);
        break;
      } catch (e) {
        if (attempt > 0 && isPoolError(e, 'INVALID_TRANSITION') && e.data.actual === to) break;
        if (!isPoolError(e, 'STORE_UNAVAILABLE') || (this.phase !== 'running' && this.phase !== 'starting')) throw e;
        if (attempt === 0) this.report(e, `move ${containerId} ${from} → ${to} (retried until the store answers)`);
        await new Promise<void>((resolve) => this.clock.setTimeout(resolve, Math.min(MOVE_RETRY_MAX_MS, MOVE_RETRY_FIRST_MS * 2 ** attempt)));
      }
    }
    this.emit('containerStateChanged', { containerId, from, to, ...(error ? { error } : {}) });
  }

  private spec(containerId: string) {
    const spec = this.config.containerSpecs.find((s) => s.id === containerId);
    if (!spec) throw new PoolError('UNKNOWN_CONTAINER', `No container ${JSON.stringify(containerId)} in this pool.`, { containerId });
    return spec;
  }

  private assertRunning(): void {
    if (this.phase === 'running') return;
    if (this.phase === 'closing' || this.phase === 'closed') throw new PoolError('POOL_SHUT_DOWN', 'The pool has shut down.');
    throw new PoolError('POOL_NOT_INITIALIZED', 'The pool is not initialized yet: call initialize() (globalSetup does) first.');
  }

  private report(error: unknown, context: string): void {
    this.logger.warn(`${context}: ${errorMessage(error)}`);
    this.emit('backgroundError', { error, context });
  }
}

function combineStartFailures(failures: unknown[]): PoolError {
  const messages = failures.map(errorMessage);
  const first = failures.find((f) => isPoolError(f));
  return new PoolError(first?.code ?? 'HEALTH_GATE_FAILED', `${failures.length} containers failed to start:\n${messages.map((m) => `  - ${m}`).join('\n')}`, {
    failures: failures.map((f) => (isPoolError(f) ? f.toJSON() : errorMessage(f))),
  });
}

function assertLeaseRef(ref: unknown): asserts ref is LeaseRef {
  const r = ref as Partial<LeaseRef> | null;
  if (!r || typeof r.leaseId !== 'string' || r.leaseId.length === 0 || typeof r.token !== 'number' || !Number.isSafeInteger(r.token)) {
    throw new PoolError('INVALID_ARGUMENT', `A lease reference needs { leaseId: string, token: integer }, got ${JSON.stringify(ref)}.`, {});
  }
}

function safeActor(input: AllocationRequestInput): string {
  return typeof input?.testRunId === 'string' ? input.testRunId : 'unknown';
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
