import type { Clock, TimerHandle } from '../clock/clock.js';
import { CLEANUP_STAGES } from '../cleanup/cleanup-types.js';
import type { PoolConfig } from '../config/pool-config.js';
import type { Grant, PoolStore } from '../store/pool-store.js';
import type { PoolHost } from './pool-host.js';
import type { EmitPoolEvent, PoolLogger, ReportError } from './pool-events.js';
import type { DegradationChange } from './resource-manager.js';

export interface PoolSchedulerDeps {
  config: Pick<PoolConfig, 'lease' | 'cleanup'>;
  store: PoolStore;
  clock: Clock;
  host: Pick<PoolHost, 'recycle' | 'isBusy' | 'reapLost'>;
  /** Hands grants to the requests waiting here. */
  deliver: (grants: readonly Grant[]) => void;
  /** True when a request is waited for by this coordinator. */
  isWaitedFor: (requestId: string) => boolean;
  /** Re-evaluates degradation from the live queue length. */
  evaluateLoad: (liveQueueSize: number) => DegradationChange | undefined;
  emit: EmitPoolEvent;
  report: ReportError;
  logger: PoolLogger;
}

/**
 * The pool's clockwork: dispatch passes that hand Available containers to the queue (on demand, never
 * overlapping), and the periodic sweep (expired leases, orphaned cleanups and queue entries, degradation).
 * Between start() and stop() only.
 */
export class PoolScheduler {
  private running = false;
  private sweepTimer: TimerHandle | undefined;
  private sweeping = false;
  private dispatching: Promise<void> | undefined;
  private dispatchAgain = false;

  constructor(private readonly deps: PoolSchedulerDeps) {}

  start(): void {
    this.running = true;
    this.scheduleSweep();
    this.kick();
  }

  /** Stops sweeping and dispatching; safe to call twice. */
  stop(): void {
    this.running = false;
    if (this.sweepTimer) this.deps.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /** Runs a dispatch pass soon; passes never overlap and a request during one triggers one more. */
  kick(): void {
    if (!this.running) return;
    if (this.dispatching) {
      this.dispatchAgain = true;
      return;
    }
    const { store, clock, config } = this.deps;
    this.dispatching = (async () => {
      do {
        this.dispatchAgain = false;
        try {
          this.deps.deliver(await store.dispatch(clock.now(), config.lease.ttlMs));
        } catch (error) {
          this.deps.report(error, 'dispatch');
        }
      } while (this.dispatchAgain && this.running);
      this.dispatching = undefined;
    })();
  }

  private scheduleSweep(): void {
    if (!this.running) return;
    this.sweepTimer = this.deps.clock.setTimeout(() => {
      void this.sweep().finally(() => this.scheduleSweep());
    }, this.deps.config.lease.sweepIntervalMs);
  }

  /** Reclaims expired leases, adopts orphaned cleanups, drops orphaned queue entries, re-evaluates degradation. */
  private async sweep(): Promise<void> {
    if (this.sweeping || !this.running) return;
    this.sweeping = true;
    const { store, clock, host, emit, logger } = this.deps;
    try {
      const now = clock.now();
      for (const lease of await store.reclaimExpired(now)) {
        emit('leaseExpired', { lease });
        logger.warn(`Lease of ${lease.testRunId} on ${lease.containerId} expired (no heartbeat); the container is reclaimed.`);
        void host.recycle(lease.containerId).catch(() => undefined);
      }
      for (const { lease, reason } of (await host.reapLost?.()) ?? []) {
        emit('leaseRevoked', { lease, reason });
        logger.warn(`Lease of ${lease.testRunId} on ${lease.containerId} ended: ${reason}`);
      }
      await this.adoptOrphanedCleanups(now);
      const queue = await store.listQueue();
      // Requests past their deadline with no waiter here: their coordinator is gone (crash, restart).
      for (const q of queue) {
        if (q.deadline <= now && !this.deps.isWaitedFor(q.requestId)) {
          const result = await store.cancel(q.requestId);
          if (result.status === 'cancelled') await store.incrementCounter('cancelledRequests');
        }
      }
      const change = this.deps.evaluateLoad(queue.filter((q) => q.deadline > now).length);
      if (change) this.onDegradationChange(change);
      this.kick();
    } catch (error) {
      this.deps.report(error, 'sweep');
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
    const orphanAfterMs = CLEANUP_STAGES.length * this.deps.config.cleanup.stageTimeoutMs;
    for (const c of await this.deps.store.listContainers()) {
      if (c.state !== 'Cleaning' || this.deps.host.isBusy(c.id) || now - c.stateChangedAt < orphanAfterMs) continue;
      this.deps.logger.warn(`Container ${c.id} was left in Cleaning for ${Math.round((now - c.stateChangedAt) / 1000)} s with no cleanup running; cleaning it now.`);
      this.deps.emit('cleanupAdopted', { containerId: c.id, since: c.stateChangedAt });
      void this.deps.host.recycle(c.id).catch(() => undefined);
    }
  }

  private onDegradationChange(change: DegradationChange): void {
    if (change.type === 'degradationStarted') {
      this.deps.logger.warn(`Pool degraded (${change.reasons.join(', ')}): LOW requests are refused and cleanup is minimal until load falls.`);
      this.deps.emit('degradationStarted', change);
    } else {
      this.deps.logger.info(`Pool back to normal after ${Math.round(change.durationMs / 1000)} s of degradation.`);
      this.deps.emit('degradationEnded', change);
    }
  }
}
