import type { Clock, TimerHandle } from '../clock/clock.js';
import { PoolError } from '../errors/pool-error.js';
import type { Grant, Lease, PoolStore } from '../store/pool-store.js';
import type { AllocationRequest } from './allocation-request.js';

export interface AllocationQueueOptions {
  store: PoolStore;
  clock: Clock;
  /** Lease TTL for grants, ms (read on each request so config updates apply). */
  leaseTtlMs: () => number;
  /** Bound on waiting + active requests (read on each request). */
  maxConcurrent: () => number;
  /** The tenant every request is queued for (pool option `tenant`); absent: the default tenant. */
  tenant?: string;
  /** The tenant's quota each request carries (pool option `tenantQuota`); absent: none. */
  tenantQuota?: number;
  /** A grant nobody here wants any more (cancelled at the last moment): the owner releases and recycles it. */
  returnUnwanted: (lease: Lease) => Promise<void>;
  report: (error: unknown, context: string) => void;
}

interface Waiter {
  requestId: string;
  resolve(lease: Lease): void;
  reject(error: unknown): void;
  timer: TimerHandle;
  cleanupAbort?: () => void;
}

/**
 * This coordinator's side of the queue: the requests waiting here for a grant. The order itself lives in
 * the store (priority, then arrival); this class turns grants into resolved promises, enforces each
 * request's deadline, and makes sure a grant that arrives for a request given up meanwhile is handed back.
 */
export class AllocationQueue {
  private readonly waiters = new Map<string, Waiter>();
  /** Requests given up here whose store entry may still turn into a grant that must be handed back. */
  private readonly abandoned = new Set<string>();
  private waitListener: (() => void) | undefined;

  constructor(private readonly options: AllocationQueueOptions) {}

  /** Called each time a request starts waiting here (the GrantWatch polls only while requests wait). */
  onWait(listener: () => void): void {
    this.waitListener = listener;
  }

  /** The request ids (one try each) waiting in this process now. */
  waitingIds(): string[] {
    return [...this.waiters.keys()];
  }

  /** Whether a request id (one try of a request) is waiting in this process. */
  has(requestId: string): boolean {
    return this.waiters.has(requestId);
  }

  get size(): number {
    return this.waiters.size;
  }

  /** Queues one try of `request` and resolves with its lease, or rejects at its deadline (ALLOCATION_TIMEOUT). */
  waitForGrant(request: AllocationRequest, attempt: number, requestedAt: number): Promise<Lease> {
    const { store, clock } = this.options;
    const requestId = `${request.requestId}#${attempt}`;
    const now = clock.now();
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = {
        requestId,
        resolve,
        reject,
        timer: clock.setTimeout(() => void this.onDeadline(request, requestId), request.timeoutMs),
      };
      this.waiters.set(requestId, waiter);
      this.waitListener?.();
      if (request.signal) {
        const onAbort = () =>
          void this.abandon(requestId, new PoolError('ALLOCATION_CANCELLED', `Allocation for ${request.testRunId} was cancelled while waiting.`, { requestId }));
        if (request.signal.aborted) queueMicrotask(onAbort);
        else {
          request.signal.addEventListener('abort', onAbort, { once: true });
          waiter.cleanupAbort = () => request.signal?.removeEventListener('abort', onAbort);
        }
      }
      store
        .enqueue(
          {
            requestId,
            testRunId: request.testRunId,
            priority: request.priority,
            requestedAt,
            deadline: now + request.timeoutMs,
            requirements: request.requiredResources,
            attempt,
            ...(this.options.tenant !== undefined ? { tenant: this.options.tenant } : {}),
            ...(this.options.tenantQuota !== undefined ? { tenantQuota: this.options.tenantQuota } : {}),
          },
          now,
          this.options.leaseTtlMs(),
          this.options.maxConcurrent(),
        )
        .then(
          ({ grants }) => this.deliver(grants),
          (error: unknown) => this.settle(requestId, (w) => w.reject(error)),
        );
    });
  }

  /** Resolves the waiters of these grants; hands back grants of requests given up here. */
  deliver(grants: readonly Grant[]): void {
    for (const grant of grants) {
      const delivered = this.settle(grant.request.requestId, (w) => w.resolve(grant.lease));
      // No local waiter: abandoned here (hand it back), or a request of another coordinator on the same store.
      if (!delivered && this.abandoned.delete(grant.request.requestId)) void this.options.returnUnwanted(grant.lease);
    }
  }

  /** Cancels every try of `requestId` waiting here. */
  async cancel(requestId: string, error: PoolError): Promise<boolean> {
    const ids = [...this.waiters.keys()].filter((id) => id === requestId || id.startsWith(`${requestId}#`));
    for (const id of ids) await this.abandon(id, error);
    return ids.length > 0;
  }

  /** Fails every waiting request (shutdown), removing each from the store. */
  async rejectAll(error: PoolError): Promise<void> {
    await Promise.allSettled(
      [...this.waiters.keys()].map(async (id) => {
        await this.options.store.cancel(id).catch((e: unknown) => this.options.report(e, `cancel ${id}`));
        this.settle(id, (w) => w.reject(error));
      }),
    );
  }

  private async onDeadline(request: AllocationRequest, requestId: string): Promise<void> {
    if (!this.waiters.has(requestId)) return;
    try {
      const result = await this.options.store.cancel(requestId);
      if (result.status === 'granted') {
        // Granted at the last moment: better handed over than wasted.
        this.settle(requestId, (w) => w.resolve(result.lease));
        return;
      }
      const error = new PoolError(
        'ALLOCATION_TIMEOUT',
        `No container was free for ${request.testRunId} (priority ${request.priority}) within ${request.timeoutMs} ms. ` +
          `Add containers, lower the number of workers, or raise resources.maxWaitTimeMs.`,
        { testRunId: request.testRunId, priority: request.priority, timeoutMs: request.timeoutMs, requestId },
      );
      this.settle(requestId, (w) => w.reject(error));
    } catch (error) {
      this.settle(requestId, (w) => w.reject(error));
    }
  }

  /** Gives up a waiting request; a grant that slipped in (now or in a dispatch in flight) is handed back at once. */
  private async abandon(requestId: string, error: PoolError): Promise<void> {
    if (!this.waiters.has(requestId)) return;
    this.abandoned.add(requestId);
    this.settle(requestId, (w) => w.reject(error));
    const result = await this.options.store.cancel(requestId).catch((e: unknown) => {
      this.options.report(e, `cancel ${requestId}`);
      return undefined;
    });
    if (result?.status === 'granted' && this.abandoned.delete(requestId)) await this.options.returnUnwanted(result.lease);
    if (result?.status !== 'granted') this.abandoned.delete(requestId);
  }

  private settle(requestId: string, action: (waiter: Waiter) => void): boolean {
    const waiter = this.waiters.get(requestId);
    if (!waiter) return false;
    this.waiters.delete(requestId);
    this.options.clock.clearTimeout(waiter.timer);
    waiter.cleanupAbort?.();
    action(waiter);
    return true;
  }
}
