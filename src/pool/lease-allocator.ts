import type { Clock } from '../clock/clock.js';
import { mergeResourceConfig, mergeTimeoutConfig, type PoolConfig } from '../config/pool-config.js';
import type { ResetStrategy, ResourceConfig, TimeoutConfig } from '../config/schemas.js';
import type { ResetResult } from '../cleanup/cleanup-types.js';
import type { TraceFile } from '../cleanup/trace-files.js';
import type { ContainerState } from '../domain/container-state.js';
import { isPoolError, PoolError } from '../errors/pool-error.js';
import type { Lease, PoolStore } from '../store/pool-store.js';
import { classifyAllocationFailure, requestActor } from './allocation-failure.js';
import { AllocationQueue } from './allocation-queue.js';
import { parseAllocationRequest, type AllocationRequest, type AllocationRequestInput } from './allocation-request.js';
import type { PoolStatus, SystemAnalytics } from './analytics-types.js';
import { asPoolAuditEvents } from './audit-events.js';
import type { ContainerHost } from './pool-host.js';
import { adviseHandBack, type HandBackAdvice } from './hand-back-policy.js';
import { computeAnalytics } from './pool-analytics.js';
import type { EmitPoolEvent, ReportError } from './pool-events.js';
import { poolStatus } from './pool-status.js';
import { renewalTtlMs } from './renewal-ttl.js';
import { ResourceManager } from './resource-manager.js';
import { TimeoutManager, type ExtensionDecision, type TimeoutRecommendation } from './timeout-manager.js';

export interface Allocation {
  lease: Lease;
  container: { id: string; name: string; port: number; url: string };
  /**
   * What the holder sends to the container's guard with every MCP request (`Authorization: Bearer <credential>`,
   * credentialHeaders()): bound to this lease and its fencing token, refused once the lease ends.
   */
  credential: string;
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

export interface LeaseAllocatorDeps {
  config: PoolConfig;
  store: PoolStore;
  clock: Clock;
  host: ContainerHost;
  /** Throws POOL_NOT_INITIALIZED / POOL_SHUT_DOWN unless the pool is running. */
  assertRunning: () => void;
  /** When the pool opened (epoch ms), for analytics. */
  startedAt: () => number;
  emit: EmitPoolEvent;
  report: ReportError;
}

/**
 * Who gets which container: the queue and its grants, leases (renew, release, hand-back advice), timeouts
 * and their extensions, degradation, and the analytics over all of it. Containers themselves are the
 * ContainerHost's; this talks to it only through that interface.
 */
export class LeaseAllocator {
  readonly timeouts: TimeoutManager;
  readonly resources: ResourceManager;
  readonly queue: AllocationQueue;

  constructor(private readonly deps: LeaseAllocatorDeps) {
    const { config, store, clock } = deps;
    this.timeouts = new TimeoutManager(store, config.timeouts);
    this.resources = new ResourceManager(config.resources, clock);
    this.queue = new AllocationQueue({
      store,
      clock,
      leaseTtlMs: () => config.lease.ttlMs,
      maxConcurrent: () => this.resources.settings.maxConcurrentAllocations,
      ...(config.tenant !== undefined ? { tenant: config.tenant } : {}),
      ...(config.tenantQuota !== undefined ? { tenantQuota: config.tenantQuota } : {}),
      returnUnwanted: (lease) => this.returnUnwanted(lease),
      report: deps.report,
    });
  }

  async allocate(input: AllocationRequestInput): Promise<Allocation> {
    const { config, clock, emit } = this.deps;
    let request: AllocationRequest | undefined;
    try {
      this.deps.assertRunning();
      request = parseAllocationRequest(input, this.resources.settings.maxWaitTimeMs);
      this.resources.admit(request.priority, request.testRunId);
      const requestedAt = clock.now();
      let lease: Lease | undefined;
      let attempt = 0;
      for (; ; attempt++) {
        try {
          lease = await this.queue.waitForGrant(request, attempt, requestedAt);
          break;
        } catch (error) {
          if (!isPoolError(error, 'ALLOCATION_TIMEOUT') || attempt >= request.maxRetries) throw error;
          emit('allocationRetried', { testRunId: request.testRunId, attempt: attempt + 1 });
        }
      }
      const waitMs = Math.max(0, lease.grantedAt - requestedAt);
      this.resources.recordAllocation(waitMs);
      const container = await this.deps.host.endpoint(lease.containerId, lease);
      emit('containerAllocated', { lease, waitMs, requestedAt, attempts: attempt + 1 });
      if (config.cleanup.resetOnAllocation !== 'none') await this.deps.host.resetLeased(lease, config.cleanup.resetOnAllocation);
      return {
        lease,
        container,
        credential: this.deps.host.leaseCredential(lease),
        waitMs,
        attempts: attempt + 1,
      };
    } catch (error) {
      this.recordFailure(input, request, error);
      throw error;
    }
  }

  /** Renews for `lease.ttlMs`, or for up to `lease.debugTtlMs` when asked (a worker being debugged). */
  renew(lease: LeaseRef, options: { ttlMs?: number } = {}): Promise<Lease> {
    this.deps.assertRunning();
    assertLeaseRef(lease);
    return this.deps.store.renew(lease.leaseId, lease.token, this.deps.clock.now(), renewalTtlMs(this.deps.config.lease, options.ttlMs));
  }

  /** Ends a lease (token-checked), or whatever lease a container id holds (an operator's override), and recycles the container. */
  async release(target: string | LeaseRef): Promise<ReleaseResult> {
    this.deps.assertRunning();
    const { store, clock } = this.deps;
    let ref: LeaseRef;
    if (typeof target === 'string') {
      const container = await store.getContainer(target);
      if (container.state !== 'Allocated' || !container.leaseId) {
        throw new PoolError('ALREADY_RELEASED', `Container ${target} holds no lease (it is ${container.state}); nothing to release.`, {
          containerId: target,
          state: container.state,
        });
      }
      const lease = await store.getLease(container.leaseId);
      ref = { leaseId: lease.leaseId, token: lease.token };
    } else {
      assertLeaseRef(target);
      ref = target;
    }
    const now = clock.now();
    const lease = await store.release(ref.leaseId, ref.token, now);
    const heldMs = now - lease.grantedAt;
    this.deps.emit('containerReleased', { lease, heldMs });
    return { lease, heldMs, recycled: this.deps.host.recycle(lease.containerId) };
  }

  async requestExtension(testRunId: string, justification: string, options: ExtensionOptions = {}): Promise<ExtensionDecision> {
    this.deps.assertRunning();
    if (typeof testRunId !== 'string' || testRunId.length === 0) {
      throw new PoolError('INVALID_ARGUMENT', 'requestTimeoutExtension needs a testRunId.', { testRunId });
    }
    if (options.lease) await this.activeLease(options.lease, 'extension refused and nothing changed');
    const decision = await this.timeouts.requestExtension({
      testRunId,
      justification,
      ...(options.requestedMs !== undefined ? { requestedMs: options.requestedMs } : {}),
      ...(options.currentTimeoutMs !== undefined ? { currentTimeoutMs: options.currentTimeoutMs } : {}),
    });
    this.deps.emit('extensionDecided', { testRunId, decision, justification: String(justification), requestedMs: options.requestedMs });
    return decision;
  }

  /** Resets the container of an active lease in place (the holder keeps it). */
  async resetLeased(ref: LeaseRef, strategy: ResetStrategy): Promise<ResetResult> {
    this.deps.assertRunning();
    const active = await this.activeLease(ref, 'reset refused');
    return this.deps.host.resetLeased(active, strategy, active.testRunId);
  }

  /** Reads a trace the holder recorded in its container: only the holder of an active lease, only its own container. */
  async readLeasedTrace(ref: LeaseRef, traceName: string, budgetMs: number): Promise<TraceFile[]> {
    this.deps.assertRunning();
    const active = await this.activeLease(ref, 'reading its trace refused');
    return this.deps.host.readTrace(active.containerId, traceName, budgetMs);
  }

  /** Whether the holder of `lease` should hand its container back at this test boundary (hand-back-policy.ts). */
  async handBackAdvice(lease: Lease, now: number): Promise<HandBackAdvice> {
    const [queue, containers] = await Promise.all([this.deps.store.listQueue(), this.deps.store.listContainers()]);
    return adviseHandBack({ lease, queue, containers, now, handBackAfterMs: this.resources.settings.handBackAfterMs });
  }

  recommendTimeout(testId?: string): Promise<TimeoutRecommendation> {
    return this.timeouts.recommend(testId);
  }

  async status(): Promise<PoolStatus> {
    const { store } = this.deps;
    const [containers, queue, leases, counters] = await Promise.all([store.listContainers(), store.listQueue(), store.listLeases(), store.getCounters()]);
    return poolStatus({ containers, queue, leases, counters, ...this.settingsNow() });
  }

  async analytics(): Promise<SystemAnalytics> {
    const { store } = this.deps;
    const [containers, queue, leases, counters, audit, executions] = await Promise.all([
      store.listContainers(),
      store.listQueue(),
      store.listLeases(),
      store.getCounters(),
      store.listAudit(),
      store.getExecutions(),
    ]);
    const analytics = computeAnalytics({ containers, queue, leases, counters, audit: asPoolAuditEvents(audit), executions, ...this.settingsNow() });
    // The build this shard's run belongs to: the report says it, so merge-reports can keep builds apart.
    const { runGroup } = this.deps.config;
    return runGroup === undefined ? analytics : { ...analytics, runGroup };
  }

  updateResourceConfig(patch: Partial<ResourceConfig>): ResourceConfig {
    const next = mergeResourceConfig(this.resources.settings, patch);
    this.resources.updateConfig(next);
    this.deps.emit('configUpdated', { resources: patch });
    return next;
  }

  updateTimeoutConfig(patch: Partial<TimeoutConfig>): TimeoutConfig {
    const next = mergeTimeoutConfig(this.timeouts.settings, patch);
    this.timeouts.updateConfig(next);
    this.deps.emit('configUpdated', { timeouts: patch });
    return next;
  }

  private settingsNow() {
    return { now: this.deps.clock.now(), startedAt: this.deps.startedAt(), resources: this.resources.settings, timeouts: this.timeouts.settings, degradation: this.resources.state() };
  }

  private async activeLease(ref: LeaseRef, refused: string): Promise<Lease> {
    assertLeaseRef(ref);
    const active = await this.deps.store.getLease(ref.leaseId);
    if (active.token !== ref.token) {
      throw new PoolError('STALE_TOKEN', `Token ${ref.token} does not hold lease ${ref.leaseId}; ${refused}.`, { leaseId: ref.leaseId, containerId: active.containerId });
    }
    return active;
  }

  private async returnUnwanted(lease: Lease): Promise<void> {
    try {
      await this.deps.store.release(lease.leaseId, lease.token, this.deps.clock.now());
      this.deps.emit('leaseReturned', { lease });
      void this.deps.host.recycle(lease.containerId).catch(() => undefined);
    } catch (error) {
      this.deps.report(error, `return unwanted lease on ${lease.containerId}`);
    }
  }

  private recordFailure(input: AllocationRequestInput, request: AllocationRequest | undefined, error: unknown): void {
    const failure = classifyAllocationFailure(error);
    const actor = requestActor(input);
    if (failure.kind === 'refused') {
      this.deps.emit('allocationRefused', { actor, code: failure.code, message: failure.message });
      return;
    }
    if (failure.countsTowardDegradation) this.resources.recordFailure();
    void this.deps.store.incrementCounter('failedAllocations').catch((e: unknown) => this.deps.report(e, 'count failed allocation'));
    this.deps.emit('allocationFailed', { actor, category: failure.category, code: failure.code, message: failure.message, priority: request?.priority });
  }
}

function assertLeaseRef(ref: unknown): asserts ref is LeaseRef {
  const r = ref as Partial<LeaseRef> | null;
  if (!r || typeof r.leaseId !== 'string' || r.leaseId.length === 0 || typeof r.token !== 'number' || !Number.isSafeInteger(r.token)) {
    throw new PoolError('INVALID_ARGUMENT', `A lease reference needs { leaseId: string, token: integer }, got ${JSON.stringify(ref)}.`, {});
  }
}
