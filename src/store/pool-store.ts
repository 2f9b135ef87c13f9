import type { ContainerSpec } from '../config/pool-config.js';
import type { ContainerState } from '../domain/container-state.js';
import type { TestPriority } from '../domain/priority.js';

/** What a test needs from a container. Matched against the container's limits and its last measured usage. */
export interface ResourceRequirements {
  /** Memory the test needs free (limit minus last measured use), MB. */
  minMemoryMB?: number;
  /** CPU share the test may use, percent of one core; the container's CPU limit must allow it. */
  maxCpuPercent?: number;
}

export interface ResourceUsage {
  memoryMB: number;
  cpuPercent: number;
  /** Epoch ms of the measurement. */
  at: number;
}

export interface ContainerRecord {
  id: string;
  name: string;
  port: number;
  state: ContainerState;
  /** Epoch ms of the last state change. */
  stateChangedAt: number;
  limits: { memoryMB: number; cpuPercent: number };
  usage?: ResourceUsage;
  /** The active lease while state is Allocated. */
  leaseId?: string;
  /** Failures (cleanup, health) since the container was last Available. */
  consecutiveFailures: number;
  lastError?: string;
  /** Shared pool: the host whose agent keeps this member (src/store/host-registry.ts). Absent on one machine. */
  hostId?: string;
  /** Shared pool: the address other machines reach the member at (with `port`). Absent: this machine. */
  address?: string;
  /** While Allocated: the tenant of the active lease (absent: the default tenant). Dispatch counts tenants' leases from it. */
  tenant?: string;
}

export interface NewRequest {
  requestId: string;
  testRunId: string;
  priority: TestPriority;
  /** Epoch ms when the caller asked. */
  requestedAt: number;
  /** Epoch ms after which the request is no longer served (requestedAt + timeout). */
  deadline: number;
  requirements: ResourceRequirements;
  /** 0 for the first try; retries keep their place in line. */
  attempt: number;
  /**
   * The team or suite asking (fair share inside a priority level, src/store/dispatch-plan.ts). Absent or '':
   * the default tenant, which shares like any other; a queue without tenants is served exactly as before.
   */
  tenant?: string;
  /**
   * Most active leases the tenant may hold at once for this request to be granted (its own quota: every shard
   * of a tenant should set the same). Absent: no quota. A request whose tenant is at its quota waits and
   * does not hold up other tenants.
   */
  tenantQuota?: number;
}

export interface QueuedRequest extends NewRequest {
  /** Arrival counter assigned by the store (FIFO inside a priority level, across coordinators). */
  seq: number;
  /**
   * Epoch ms on the store's clock when this try was queued (Redis' TIME under `serverTime`; the enqueue's `now`
   * otherwise). Absent on requests queued by an earlier version.
   */
  queuedAt?: number;
}

export interface Lease {
  leaseId: string;
  containerId: string;
  /** Fencing token: grows with every grant across the whole pool, never reused. */
  token: number;
  requestId: string;
  testRunId: string;
  priority: TestPriority;
  requestedAt: number;
  grantedAt: number;
  expiresAt: number;
  ttlMs: number;
  /** The request's tenant; absent: the default tenant. */
  tenant?: string;
  /**
   * The granted try's arrival counter and when it was queued (QueuedRequest.seq and queuedAt), so that who was
   * waiting at each grant can be told after the run from the lease records alone. Absent on leases granted by
   * an earlier version.
   */
  seq?: number;
  queuedAt?: number;
  /**
   * Where a host agent's member was when this lease was granted (shared pool, issue 11): written by the same
   * atomic dispatch from the member's record, so a shard needs no second read to reach it. Absent for local members.
   */
  member?: LeasedMember;
}

/** A hosted member's place as its record said at the grant (a member re-registered elsewhere ends its leases). */
export interface LeasedMember {
  hostId: string;
  name: string;
  address: string;
  port: number;
}

export type LeaseEndReason = 'released' | 'expired' | 'revoked';

export interface Grant {
  request: QueuedRequest;
  lease: Lease;
}

export type EnqueueResult =
  /** The request was queued; `grants` holds whatever the dispatch pass that followed handed out (maybe this request). */
  { grants: Grant[]; queued: QueuedRequest };

export type CancelResult =
  | { status: 'cancelled'; request: QueuedRequest }
  /** Too late: the request had already been granted this lease (the caller now owns it). */
  | { status: 'granted'; lease: Lease }
  | { status: 'unknown' };

export interface EndedLease {
  lease: Lease;
  reason: LeaseEndReason;
  endedAt: number;
  /** Why a revoked lease ended, when the store knows more than "its container failed": 'host-lost: ...' (shared pool). */
  error?: string;
}

export interface StoreCounters {
  allocations: number;
  releases: number;
  expirations: number;
  revocations: number;
  failedAllocations: number;
  cancelledRequests: number;
}
export type CounterName = keyof StoreCounters;

export interface AuditEvent {
  /** Epoch ms. */
  at: number;
  /** What happened: 'allocated', 'released', 'lease-expired', 'reset', 'extension', ... */
  type: string;
  /** Who asked: a testRunId, 'coordinator', 'health-monitor'... */
  actor: string;
  containerId?: string;
  outcome: 'ok' | 'refused' | 'failed';
  detail?: Record<string, unknown>;
}

/**
 * Where pool state lives. Every method is atomic on its own: implementations guarantee that no container is
 * ever leased twice, whatever the interleaving of calls from any number of coordinators.
 *
 * Errors are PoolErrors: UNKNOWN_CONTAINER, INVALID_TRANSITION (state was not `from`), DUPLICATE_REQUEST,
 * CONCURRENCY_LIMIT, UNSATISFIABLE_REQUEST, UNKNOWN_LEASE, STALE_TOKEN, ALREADY_RELEASED, LEASE_EXPIRED,
 * LEASE_REVOKED, CORRUPT_STATE (data read back failed validation), STORE_UNAVAILABLE, INVALID_ARGUMENT (a
 * non-finite number: stores that serialise records refuse NaN/Infinity). A refused call changes nothing.
 */
export interface PoolStore {
  readonly kind: 'memory' | 'redis';

  /** Registers the pool's containers, each in state Starting. Replaces records with the same id; keeps counters/history. */
  registerContainers(specs: readonly ContainerSpec[], now: number): Promise<ContainerRecord[]>;
  listContainers(): Promise<ContainerRecord[]>;
  getContainer(id: string): Promise<ContainerRecord>;
  /**
   * Compare-and-set of a container's state: from `from` to `to`. The store does not judge whether the move
   * is legal (the state machine above does) except: entering or leaving Allocated is only possible through
   * leases (dispatch, release, reclaimExpired, revoke). A move that carries an `error` is a failure: the error
   * is kept as lastError and consecutiveFailures grows by one; entering Available resets consecutiveFailures.
   */
  transition(id: string, from: ContainerState, to: ContainerState, now: number, error?: string): Promise<ContainerRecord>;
  recordUsage(id: string, usage: ResourceUsage): Promise<void>;

  /**
   * Queues a request, then runs a dispatch pass (one atomic step). Refuses DUPLICATE_REQUEST (requestId
   * known, queued or leased), CONCURRENCY_LIMIT (queued + active leases >= maxConcurrent) and
   * UNSATISFIABLE_REQUEST (no registered container's limits meet the requirements).
   */
  enqueue(request: NewRequest, now: number, ttlMs: number, maxConcurrent: number): Promise<EnqueueResult>;
  /**
   * Hands Available containers to queued requests in service order: priority rank first; inside a rank fair
   * share between tenants (the next grant goes to the tenant with the fewest active leases, counting this
   * pass's grants, ties by seq; a tenant at its request's tenantQuota is passed over — src/store/dispatch-plan.ts).
   * Without tenants that is seq order. The chosen request takes the first Available container (registration
   * order) that satisfies its requirements; a request no Available container satisfies is passed over, not
   * blocking those behind it. Requests whose
   * deadline is <= now are not served (they stay until cancelled). A shared pool's member (one with a hostId) is
   * offered only while its host's lease is held and the host is not draining (src/store/host-registry.ts).
   * Returns the grants made, in order.
   */
  dispatch(now: number, ttlMs: number): Promise<Grant[]>;
  /**
   * The grants of those requests that hold an active lease now, in the order asked (unknown, still waiting,
   * cancelled or ended ones are left out; an id asked twice is answered once). For a coordinator that learns
   * of a grant made by another participant (a pub/sub notice, or a poll): `grant.request` is the request as
   * it was when granted. Should that record be gone (the Redis store keeps it with the lease key's safety-net
   * TTL; a lease granted by a version before grantsFor has none), it is rebuilt from the lease: requestId,
   * testRunId, priority and requestedAt exact, deadline = the lease's grantedAt, requirements {}, attempt 0, seq 0.
   */
  grantsFor(requestIds: readonly string[]): Promise<Grant[]>;
  /** Removes a queued request. If it was granted meanwhile, says so and returns the lease. */
  cancel(requestId: string): Promise<CancelResult>;
  /** Extends an active lease to now + ttlMs. Token-checked. */
  renew(leaseId: string, token: number, now: number, ttlMs: number): Promise<Lease>;
  /** Ends an active lease: its container goes Allocated → Cleaning. Token-checked. */
  release(leaseId: string, token: number, now: number): Promise<Lease>;
  /**
   * The container died or failed: its active lease (if any) is ended as 'revoked' and the container goes
   * to Unhealthy (from Allocated or Available). Returns the revoked lease. Other states: INVALID_TRANSITION.
   */
  revoke(containerId: string, now: number, error: string): Promise<Lease | undefined>;
  /** Ends every active lease with expiresAt <= now ('expired'); their containers go to Cleaning. */
  reclaimExpired(now: number): Promise<Lease[]>;
  listLeases(): Promise<Lease[]>;
  /**
   * The fencing token the next grant will get: every lease granted so far has a lower one. A member's guard is
   * fenced at it (src/runtime/member-fence.ts) when the member is not leased, which ends every lease it had.
   */
  nextToken(): Promise<number>;
  getLease(leaseId: string): Promise<Lease>;
  /** How a recently ended lease ended (kept for a while so late callers get a precise error). */
  getEndedLease(leaseId: string): Promise<EndedLease | undefined>;
  listQueue(): Promise<QueuedRequest[]>;

  /** Appends an execution duration for `testId` and for the overall history, each capped at `limit`. */
  appendExecution(testId: string, durationMs: number, limit: number): Promise<void>;
  /** Durations, oldest first: for `testId`, or overall when omitted. */
  getExecutions(testId?: string): Promise<number[]>;
  /** Atomically counts one more extension for testRunId if fewer than `max` were granted; returns the new count or -1. */
  claimExtension(testRunId: string, max: number): Promise<number>;
  getExtensionCount(testRunId: string): Promise<number>;

  /** allocations, releases, expirations and revocations are counted by the store itself; the rest by callers. */
  incrementCounter(name: CounterName, by?: number): Promise<void>;
  getCounters(): Promise<StoreCounters>;
  appendAudit(events: readonly AuditEvent[]): Promise<void>;
  /** Audit events, oldest first (capped by the store). */
  listAudit(): Promise<AuditEvent[]>;

  close(): Promise<void>;
}
