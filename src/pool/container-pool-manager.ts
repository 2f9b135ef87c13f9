import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { SystemClock, type Clock } from '../clock/clock.js';
import type { PoolConfig } from '../config/pool-config.js';
import type { ResetStrategy, ResourceConfig, TimeoutConfig } from '../config/schemas.js';
import type { ContainerCleaner, ContainerResetter, ResetResult } from '../cleanup/cleanup-types.js';
import type { TraceFile } from '../cleanup/trace-files.js';
import { PoolError } from '../errors/pool-error.js';
import type { HealthGate } from '../health/health-gate.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { MemberCredentials } from '../runtime/member-credentials.js';
import { fenceMember, type MemberFence } from '../runtime/member-fence.js';
import type { AuditEvent, ContainerRecord, EndedLease, Lease, PoolStore, QueuedRequest } from '../store/pool-store.js';
import type { AllocationRequestInput } from './allocation-request.js';
import type { PoolStatus, SystemAnalytics } from './analytics-types.js';
import { AuditLog } from './audit-log.js';
import { subscribeAudit } from './audit-subscriber.js';
import { ContainerKeeper } from './container-keeper.js';
import type { HostStartOptions, PoolHost, PoolHostWiring } from './pool-host.js';
import { everyMemberLost, everyMemberLostMessage } from './start-policy.js';
import type { HandBackAdvice } from './hand-back-policy.js';
import { LeaseAllocator, type Allocation, type ExtensionOptions, type LeaseRef, type ReleaseResult } from './lease-allocator.js';
import { errorMessage, SILENT_LOGGER, type PoolEventMap, type PoolEventName, type PoolLogger } from './pool-events.js';
import { PoolScheduler } from './pool-scheduler.js';
import { GrantWatch, grantNoticesOf } from './grant-watch.js';
import { RevocationWatch, revocationNoticesOf } from './revocation-watch.js';
import type { ExtensionDecision, TimeoutRecommendation } from './timeout-manager.js';

export type { Allocation, ExtensionOptions, LeaseRef, ReleaseResult } from './lease-allocator.js';
export type { FailureCategory } from './pool-events.js';

/** The members of a pool that keeps its own containers (one machine; a host agent for its host). */
export interface LocalMembers {
  runtime: ContainerRuntime;
  health: HealthGate;
  cleaner: ContainerCleaner;
  resetter: ContainerResetter;
  /**
   * The run's member credentials: each member's guard gets its key at start, holders get a lease credential
   * with the grant. Must be the set the `health` gate signs with. @defaultValue a new random set
   */
  credentials?: MemberCredentials;
  /** Tells a member's guard which leases are over. @defaultValue fenceMember (HTTP to the member's guard) */
  fence?: MemberFence;
  host?: undefined;
}

/** The members of a pool kept elsewhere (a shared pool's shard: host agents keep them). */
export interface HostedMembers {
  /** Builds the host the pool hands its members out from (RemoteHosts in a shared pool). */
  host: (wiring: PoolHostWiring) => PoolHost;
}

/** What shutdown does with cleanups still running (ContainerPoolManagerDeps.cleanupsAtShutdown). */
export type CleanupsAtShutdown = 'finish' | 'abandon';

export type ContainerPoolManagerDeps = {
  /** Parsed config: `parsePoolOptions(options)`. */
  config: PoolConfig;
  store: PoolStore;
  clock?: Clock;
  /** Identifies this run in container labels and audit events. @defaultValue a random id */
  runId?: string;
  /**
   * How often, while requests wait here, the store is asked for grants another participant made for them (the
   * fallback of the store's grant notices, which are at-most-once). ms. @defaultValue DEFAULT_GRANT_POLL_MS (250)
   */
  grantPollMs?: number;
  /**
   * What shutdown does with cleanups still running: 'finish' waits for them (a warm pool's members must be left
   * clean for the next run); 'abandon' stops them, as the members are removed right after and a finished
   * cleanup would be thrown away (it was the last release's, and the run's tail waited for it).
   * @defaultValue 'finish'
   */
  cleanupsAtShutdown?: CleanupsAtShutdown;
  logger?: PoolLogger;
} & (LocalMembers | HostedMembers);

type Phase = 'new' | 'starting' | 'running' | 'closing' | 'closed';

/**
 * The pool: a fixed set of containers handed out one lease at a time in priority order, cleaned between
 * holders, recovered when they fail, with timeouts from history and analytics over everything.
 *
 * A facade: the LeaseAllocator decides who gets which container, the ContainerKeeper keeps this host's
 * containers (start, health, cleanup, reset, recovery), the PoolScheduler runs dispatch and the sweep, and
 * the audit trail is one subscriber to this object's events. State lives in the injected PoolStore.
 */
export class ContainerPoolManager extends EventEmitter {
  readonly config: PoolConfig;
  readonly runId: string;
  private readonly store: PoolStore;
  private readonly clock: Clock;
  private readonly logger: PoolLogger;
  private readonly audit: AuditLog;
  private readonly allocator: LeaseAllocator;
  private readonly keeper: PoolHost;
  private readonly scheduler: PoolScheduler;
  private readonly grants: GrantWatch;
  private readonly revocations: RevocationWatch;
  private phase: Phase = 'new';
  private closing: Promise<void> | undefined;
  private readonly cleanupsAtShutdown: CleanupsAtShutdown;
  /** Members recovery gave up on (quarantined) in this run. */
  private readonly quarantined = new Set<string>();
  /** Set once every member is quarantined: every request fails with it. */
  private lost: PoolError | undefined;
  private startedAt = 0;

  constructor(deps: ContainerPoolManagerDeps) {
    super();
    this.config = deps.config;
    this.store = deps.store;
    this.clock = deps.clock ?? new SystemClock();
    this.runId = deps.runId ?? randomUUID().slice(0, 8);
    this.logger = deps.logger ?? SILENT_LOGGER;
    this.cleanupsAtShutdown = deps.cleanupsAtShutdown ?? 'finish';
    const emit = this.emit.bind(this) as <K extends PoolEventName>(event: K, payload: PoolEventMap[K]) => void;
    const report = (error: unknown, context: string) => this.report(error, context);
    const shared = { config: this.config, store: this.store, clock: this.clock, emit, report, logger: this.logger };
    this.audit = new AuditLog(this.store, this.clock, { onError: (error) => this.report(error, 'audit flush') });
    // First listener: each event is in the audit trail before anyone else reacts to it.
    subscribeAudit(this, this.audit, this.runId);
    const wiring: PoolHostWiring = {
      ...shared,
      cleanupLevel: () => this.allocator.resources.cleanupLevel(),
      phase: () => this.phase,
      onAvailable: () => this.scheduler.kick(),
    };
    this.keeper =
      deps.host !== undefined
        ? deps.host(wiring)
        : new ContainerKeeper({
            ...wiring,
            credentials: deps.credentials ?? new MemberCredentials(),
            fence: deps.fence ?? fenceMember,
            runtime: deps.runtime,
            health: deps.health,
            cleaner: deps.cleaner,
            resetter: deps.resetter,
          });
    this.allocator = new LeaseAllocator({ ...shared, host: this.keeper, assertRunning: () => this.assertRunning(), startedAt: () => this.startedAt });
    this.scheduler = new PoolScheduler({
      ...shared,
      host: this.keeper,
      deliver: (grants) => this.allocator.queue.deliver(grants),
      isWaitedFor: (requestId) => this.allocator.queue.has(requestId),
      evaluateLoad: (size) => this.allocator.resources.evaluate(size),
    });
    // Grants made by other participants' dispatch passes (an agent's cleanup, another shard's release).
    const notices = grantNoticesOf(this.store);
    this.grants = new GrantWatch({
      store: this.store,
      clock: this.clock,
      waitingIds: () => this.allocator.queue.waitingIds(),
      deliver: (grants) => this.allocator.queue.deliver(grants),
      report,
      ...(notices ? { notices } : {}),
      ...(deps.grantPollMs !== undefined ? { pollMs: deps.grantPollMs } : {}),
    });
    this.allocator.queue.onWait(() => this.grants.wake());
    // Revocations made by other participants (a reaped or replaced host, a Redis failover), told to holders here at once.
    const revocationNotices = revocationNoticesOf(this.store);
    this.revocations = new RevocationWatch({
      store: this.store,
      tell: (lease, reason) => {
        this.emit('leaseRevoked', { lease, reason });
        this.logger.warn(`Lease of ${lease.testRunId} on ${lease.containerId} ended: ${reason}`);
      },
      report,
      ...(revocationNotices ? { notices: revocationNotices } : {}),
    });
    // Every member quarantined: nothing will ever be granted, so waiting requests fail now instead of at their deadlines.
    this.on('containerQuarantined', ({ containerId }) => this.noteLost(containerId));
    this.on('containerAllocated', ({ lease }) => this.revocations.granted(lease.leaseId));
    this.on('containerReleased', ({ lease }) => this.revocations.ended(lease.leaseId));
    this.on('leaseExpired', ({ lease }) => this.revocations.ended(lease.leaseId));
  }

  override emit<K extends PoolEventName>(event: K, payload: PoolEventMap[K]): boolean {
    // A revocation is told once, whichever path found it first (this pool's sweep, a store notice).
    if (event === 'leaseRevoked' && !this.revocations.firstTelling((payload as PoolEventMap['leaseRevoked']).lease.leaseId)) return false;
    return super.emit(event, payload);
  }

  override on<K extends PoolEventName>(event: K, listener: (payload: PoolEventMap[K]) => void): this {
    return super.on(event, listener);
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Removes leftovers of crashed runs, starts every container, gates each on all health stages and opens
   * the pool; resolves with how many members serve. By default it opens once every member passed; with
   * `serveFrom: 'first'` once one did, and the others join as they pass their gates (a member that fails
   * later is reported, never handed out, and recovered). If the pool cannot open (any member failed; with
   * 'first', every member), everything started is stopped again and the error names each container, the
   * stage and the fix.
   */
  async initialize(options: HostStartOptions = {}): Promise<number> {
    if (this.phase !== 'new') throw new PoolError('INVALID_ARGUMENT', `initialize() was already called (pool is ${this.phase}).`);
    this.phase = 'starting';
    const t0 = this.clock.monotonic();
    let containers: number;
    try {
      containers = await this.keeper.start({ poolId: this.config.poolId, runId: this.runId }, options);
    } catch (error) {
      this.phase = 'closed';
      throw error;
    }
    this.open();
    this.emit('initialized', { containers, durationMs: Math.round(this.clock.monotonic() - t0) });
    return containers;
  }

  /**
   * Takes over a pool whose containers are already running and whose state is in the store (a coordinator
   * restarted on the same Redis): leases, queue and history carry on; nothing is restarted.
   */
  async resume(): Promise<void> {
    if (this.phase !== 'new') throw new PoolError('INVALID_ARGUMENT', `resume() was already called (pool is ${this.phase}).`);
    await this.keeper.resume();
    this.open();
    this.emit('poolResumed', {});
  }

  private open(): void {
    this.phase = 'running';
    this.startedAt = this.clock.now();
    this.scheduler.start();
    this.grants.start();
    this.revocations.start();
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
    this.scheduler.stop();
    await this.grants.stop();
    await this.revocations.stop();
    await this.keeper.stopMonitor();
    const errors: unknown[] = [];
    await this.allocator.queue.rejectAll(new PoolError('POOL_SHUT_DOWN', 'The pool shut down while this request was waiting.'));
    const abandon = this.cleanupsAtShutdown === 'abandon' && this.keeper.standDown !== undefined;
    if (abandon) this.keeper.standDown?.();
    else await this.keeper.settle();
    if (wasRunning) this.emit('poolStopped', { available: await this.availableMembers().catch(() => []) });
    await this.audit.flush().catch((e: unknown) => errors.push(e));
    await this.keeper.stopAll(errors);
    // Stood-down work ends at its next step, at the latest when its member is gone.
    if (abandon) await this.keeper.settle();
    this.phase = 'closed';
    for (const e of errors) this.logger.warn(`shutdown: ${errorMessage(e)}`);
  }

  private async availableMembers(): Promise<string[]> {
    return (await this.store.listContainers()).filter((c) => c.state === 'Available').map((c) => c.id);
  }

  // ---------------------------------------------------------------- leases (LeaseAllocator)

  /** Allocates a container for `testRunId` at normal priority. */
  allocateContainer(testRunId: string): Promise<Allocation> {
    return this.allocator.allocate({ testRunId });
  }

  /**
   * Waits in the queue (priority, then arrival) for a container that meets the request, at most
   * `timeoutMs` per try and `maxRetries` further tries. Bad input fails at once and queues nothing.
   */
  allocateContainerAdvanced(input: AllocationRequestInput): Promise<Allocation> {
    return this.allocator.allocate(input);
  }

  /** Renews for `lease.ttlMs`, or for up to `lease.debugTtlMs` when asked (a worker being debugged). */
  renewLease(lease: LeaseRef, options: { ttlMs?: number } = {}): Promise<Lease> {
    return this.allocator.renew(lease, options);
  }

  /**
   * Ends a lease and recycles its container (cleanup, or reset when cleanup fails). Give the lease
   * (token-checked), or a container id to release whatever lease it holds (an operator's override).
   */
  releaseContainer(target: string | LeaseRef): Promise<ReleaseResult> {
    return this.allocator.release(target);
  }

  requestTimeoutExtension(testRunId: string, justification: string, options: ExtensionOptions = {}): Promise<ExtensionDecision> {
    return this.allocator.requestExtension(testRunId, justification, options);
  }

  /** Records how long a test ran (feeds adaptive timeouts). */
  recordExecution(testId: string, durationMs: number): Promise<void> {
    return this.allocator.timeouts.recordExecution(testId, durationMs);
  }

  /** The timeout a test should get, from its history (adaptive) or the default. */
  recommendTimeout(testId?: string): Promise<TimeoutRecommendation> {
    return this.allocator.recommendTimeout(testId);
  }

  /** Whether the holder of `lease` should hand its container back at this test boundary. @param now epoch ms */
  handBackAdvice(lease: Lease, now: number = this.clock.now()): Promise<HandBackAdvice> {
    return this.allocator.handBackAdvice(lease, now);
  }

  /** An active lease (UNKNOWN_LEASE once it ended). */
  getLease(leaseId: string): Promise<Lease> {
    return this.store.getLease(leaseId);
  }

  /** How a recently ended lease ended (undefined when unknown or long gone). */
  getEndedLease(leaseId: string): Promise<EndedLease | undefined> {
    return this.store.getEndedLease(leaseId);
  }

  /** Resets the container of an active lease in place (the holder keeps it). */
  resetLeased(lease: LeaseRef, strategy: ResetStrategy): Promise<ResetResult> {
    return this.allocator.resetLeased(lease, strategy);
  }

  /**
   * Reads a trace the holder's MCP session recorded in its container (src/cleanup/trace-files.ts): only the
   * holder of an active lease may, and only its own container's trace folder.
   */
  readLeasedTrace(lease: LeaseRef, traceName: string, budgetMs: number): Promise<TraceFile[]> {
    return this.allocator.readLeasedTrace(lease, traceName, budgetMs);
  }

  // ---------------------------------------------------------------- containers (ContainerKeeper)

  /**
   * Resets a container that is not leased: Available → (taken out) → reset → Available. A leased
   * container is reset by its holder through the lease (the fixture's reset()); here that is refused.
   */
  resetContainer(containerId: string, strategy: ResetStrategy = 'hard'): Promise<ResetResult> {
    this.assertRunning();
    return this.keeper.resetIdle(containerId, strategy);
  }

  /**
   * Cleans containers whose lease ended elsewhere (a shard of a shared pool released it, or its lease expired
   * there): each one of this pool's that is Cleaning with no cleanup running here is recycled now. A host agent
   * calls it on the store's recycle notification; the sweep's orphan adoption is the slow fallback.
   */
  async recycleReleased(containerIds: readonly string[]): Promise<void> {
    if (this.phase !== 'running') return;
    const ours = new Set(this.config.containerSpecs.map((s) => s.id));
    for (const id of containerIds) {
      if (!ours.has(id) || this.keeper.isBusy(id)) continue;
      const record = await this.store.getContainer(id).catch(() => undefined);
      // Checked again after the read: the notice and the poll may both have asked for this member meanwhile.
      if (record?.state === 'Cleaning' && !this.keeper.isBusy(id)) void this.keeper.recycle(id).catch((e: unknown) => this.report(e, `recycle ${id}`));
    }
  }

  // ---------------------------------------------------------------- reading and tuning

  async getPoolStatus(): Promise<PoolStatus> {
    return this.allocator.status();
  }

  async getSystemAnalytics(): Promise<SystemAnalytics> {
    await this.audit.flush();
    return this.allocator.analytics();
  }

  /** Every audit event so far (flushed first). */
  async getAuditLog(): Promise<AuditEvent[]> {
    await this.audit.flush();
    return this.store.listAudit();
  }

  /** Containers and queued requests as the store has them now (metrics gauges read these at scrape time). */
  async occupancy(): Promise<{ containers: ContainerRecord[]; queue: QueuedRequest[] }> {
    const [containers, queue] = await Promise.all([this.store.listContainers(), this.store.listQueue()]);
    return { containers, queue };
  }

  /** The resource settings in force (config, plus any update). */
  resourceSettings(): ResourceConfig {
    return this.allocator.resources.settings;
  }

  updateResourceConfig(patch: Partial<ResourceConfig>): ResourceConfig {
    return this.allocator.updateResourceConfig(patch);
  }

  updateTimeoutConfig(patch: Partial<TimeoutConfig>): TimeoutConfig {
    return this.allocator.updateTimeoutConfig(patch);
  }

  // ---------------------------------------------------------------- helpers

  private noteLost(containerId: string): void {
    this.quarantined.add(containerId);
    const members = this.config.containerSpecs.map((s) => s.id);
    if (this.lost || !everyMemberLost(members, this.quarantined)) return;
    this.lost = new PoolError('HEALTH_GATE_FAILED', everyMemberLostMessage(members), { quarantined: members });
    this.logger.error(this.lost.message);
    void this.allocator.queue.rejectAll(this.lost);
  }

  private assertRunning(): void {
    if (this.lost && this.phase === 'running') throw this.lost;
    if (this.phase === 'running') return;
    if (this.phase === 'closing' || this.phase === 'closed') throw new PoolError('POOL_SHUT_DOWN', 'The pool has shut down.');
    throw new PoolError('POOL_NOT_INITIALIZED', 'The pool is not initialized yet: call initialize() (globalSetup does) first.');
  }

  private report(error: unknown, context: string): void {
    this.logger.warn(`${context}: ${errorMessage(error)}`);
    this.emit('backgroundError', { error, context });
  }
}
