import type { Clock } from '../clock/clock.js';
import { sleepOn } from '../clock/clock-wait.js';
import { backoffDelay } from '../clock/backoff.js';
import type { CleanupLevel, CleanupResult, ContainerCleaner, ContainerResetter, ResetResult } from '../cleanup/cleanup-types.js';
import type { PoolConfig } from '../config/pool-config.js';
import { memoryThresholdMB, type ResetStrategy } from '../config/schemas.js';
import type { ContainerState } from '../domain/container-state.js';
import { isPoolError, PoolError } from '../errors/pool-error.js';
import type { HealthGate } from '../health/health-gate.js';
import { healthGateError } from '../health/health-gate-error.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import type { MemberCredentials } from '../runtime/member-credentials.js';
import type { FenceResult, MemberFence } from '../runtime/member-fence.js';
import type { PoolStore } from '../store/pool-store.js';
import { specOf } from './container-spec-lookup.js';
import { moveContainer } from './container-state-machine.js';
import { errorMessage, type EmitPoolEvent, type PoolLogger, type ReportError } from './pool-events.js';
import { afterCleanup, MAX_RECOVERY_ATTEMPTS, recoveryStep } from './recycle-policy.js';

/** Backoff of a container move retried through a store outage: 50 ms, doubling, at most 1 s between tries. */
const MOVE_RETRY_FIRST_MS = 50;
const MOVE_RETRY_MAX_MS = 1_000;

export interface RecyclerDeps {
  config: Pick<PoolConfig, 'cleanup' | 'health' | 'containerSpecs'>;
  store: PoolStore;
  runtime: ContainerRuntime;
  health: HealthGate;
  cleaner: ContainerCleaner;
  resetter: ContainerResetter;
  clock: Clock;
  /** The run's member credentials: the fence is called with the pool's. */
  credentials: MemberCredentials;
  /** Tells a member's guard which leases are over (fenceMember). */
  fence: MemberFence;
  /** The cleanup level now (minimal while the pool is degraded). */
  cleanupLevel: () => CleanupLevel;
  /** True while the pool is starting or running: store moves are retried through an outage only then. */
  active: () => boolean;
  /** A container went back to Available: hand it out. */
  onAvailable: () => void;
  emit: EmitPoolEvent;
  report: ReportError;
  logger: PoolLogger;
}

/**
 * Brings one host's containers back into the pool after use or failure: cleanup → (reset) → health gate →
 * Available, escalating to a restart from scratch, and quarantining a container that keeps failing. The
 * decisions are recycle-policy.ts; this runs them, one piece of work at a time per container.
 */
export class Recycler {
  /** Background work per container (cleanup, reset, recovery): one at a time. */
  private readonly pipelines = new Map<string, Promise<unknown>>();
  private readonly recoveryAttempts = new Map<string, number>();
  /** Containers over their memory threshold while leased: restarted (with cleanup) once released. */
  private readonly restartWhenFree = new Set<string>();
  /** Set by standDown(): the members are removed with the pool, so work on them would be thrown away. */
  private standingDown = false;

  constructor(private readonly deps: RecyclerDeps) {}

  /** True while cleanup, reset or recovery of this container runs here. */
  isBusy(containerId: string): boolean {
    return this.pipelines.has(containerId);
  }

  /** Waits for every piece of background work (shutdown). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.pipelines.values()]);
  }

  /**
   * The pool is stopping and removes its members right after (a run not kept warm): no cleanup, reset or
   * recovery starts from now on, and one under way ends at its next step instead of moving or escalating. Its
   * container stays where it is (Cleaning, Unhealthy) for the shutdown to mark Stopped. Not undone.
   */
  standDown(): void {
    this.standingDown = true;
  }

  /** Cleaning → cleanup → Available, or → Resetting → reset when cleanup fails. Resolves with where it ended. */
  recycle(containerId: string): Promise<ContainerState> {
    return this.run(containerId, () => this.cleanThenReturn(containerId));
  }

  /** Unhealthy → Resetting → reset (escalating) → Available, or Starting → restart → health gate. */
  recover(containerId: string): Promise<ContainerState> {
    return this.run(containerId, () => this.recoverNow(containerId));
  }

  /**
   * Resets a container nobody holds: Available (or Unhealthy) → Resetting → reset → Available. The move out
   * of Available is the store's compare-and-set, so a lease granted meanwhile makes it fail (INVALID_TRANSITION)
   * instead of resetting the container under its new holder.
   */
  resetIdle(containerId: string, strategy: ResetStrategy): Promise<ResetResult> {
    return this.run(containerId, async () => {
      if ((await this.deps.store.getContainer(containerId)).state === 'Available') await this.move(containerId, 'Available', 'Unhealthy', `reset (${strategy}) requested`);
      const current = await this.deps.store.getContainer(containerId);
      if (current.state === 'Unhealthy') await this.move(containerId, 'Unhealthy', 'Resetting');
      else if (current.state !== 'Resetting') {
        throw new PoolError('INVALID_TRANSITION', `Container ${containerId} is ${current.state}, not idle; reset (${strategy}) refused.`, { containerId, actual: current.state });
      }
      return this.runReset(containerId, strategy);
    });
  }

  /**
   * A container over its memory threshold: restarted (with cleanup) now if nobody holds it, else at its
   * release. Taking it out of Available is one compare-and-set: if a lease is granted between the read and
   * the move, the move fails and the restart waits for that release instead.
   */
  async restartWhenIdle(containerId: string): Promise<void> {
    const container = await this.deps.store.getContainer(containerId);
    if (container.state === 'Allocated') {
      this.restartWhenFree.add(containerId);
      return;
    }
    if (container.state !== 'Available' || this.isBusy(containerId)) return;
    await this.run(containerId, async () => {
      try {
        await this.move(containerId, 'Available', 'Unhealthy', 'reset (hard) requested');
      } catch (error) {
        if (!isPoolError(error, 'INVALID_TRANSITION')) throw error;
        if ((await this.deps.store.getContainer(containerId)).state === 'Allocated') this.restartWhenFree.add(containerId);
        return;
      }
      await this.move(containerId, 'Unhealthy', 'Resetting');
      await this.runReset(containerId, 'hard');
    });
  }

  /**
   * Ends at the member's guard every lease it had below `floor` (default: every lease granted so far, which is
   * right only while nobody holds it): their connections are closed and their MCP sessions ended on the server.
   * Called when a lease ends (before cleanup) and before the member is handed out again, since a guard that
   * restarted admits no lease until fenced. Throws RUNTIME_ERROR naming the member when the guard cannot be told.
   */
  async fence(containerId: string, floor?: number): Promise<FenceResult> {
    const spec = specOf(this.deps.config.containerSpecs, containerId);
    const to = floor ?? (await this.deps.store.nextToken());
    return this.deps.fence({ containerId, port: spec.port, credential: this.deps.credentials.forPool(containerId) }, to);
  }

  /**
   * Moves a container on. The moves after a release, expiry or failure (Cleaning → Available, Resetting →
   * Available, ...) are made by this process's pipeline alone: if the store is briefly unreachable (a Redis
   * restart) and the move is dropped, nobody ever moves that container again and it is lost to the pool. So a
   * STORE_UNAVAILABLE move is retried until the store answers (or the pool closes); a retry that finds the move
   * already made (the first reply was lost with the connection) counts as done.
   */
  async move(containerId: string, from: ContainerState, to: ContainerState, error?: string): Promise<void> {
    const { store, clock } = this.deps;
    for (let attempt = 0; ; attempt++) {
      try {
        await moveContainer(store, containerId, from, to, clock.now(), error);
        break;
      } catch (e) {
        if (attempt > 0 && isPoolError(e, 'INVALID_TRANSITION') && e.data.actual === to) break;
        if (!isPoolError(e, 'STORE_UNAVAILABLE') || !this.deps.active()) throw e;
        if (attempt === 0) this.deps.report(e, `move ${containerId} ${from} → ${to} (retried until the store answers)`);
        await sleepOn(clock, backoffDelay(attempt, MOVE_RETRY_FIRST_MS, MOVE_RETRY_MAX_MS));
      }
    }
    this.deps.emit('containerStateChanged', { containerId, from, to, ...(error ? { error } : {}) });
  }

  private run<T>(containerId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.pipelines.get(containerId) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(work);
    const tracked = run.catch((error: unknown) => {
      this.deps.report(error, `container ${containerId}`);
    });
    this.pipelines.set(containerId, tracked);
    void tracked.finally(() => {
      if (this.pipelines.get(containerId) === tracked) this.pipelines.delete(containerId);
    });
    return run;
  }

  private async cleanThenReturn(containerId: string): Promise<ContainerState> {
    // Recycles of one member queue behind each other, and one release can ask twice (a host agent hears the
    // store's recycle notice and finds the member in its poll). The one queued behind the recycle that returned
    // the member may find it granted again: fencing it then would cut the new holder (the floor is the next
    // token), and cleaning it would end the holder's browser. Only this pipeline moves a member out of Cleaning.
    const state = (await this.deps.store.getContainer(containerId)).state;
    if (state !== 'Cleaning' || this.standingDown) return state;
    const level = this.deps.cleanupLevel();
    // The lease that just ended loses the member first: its sessions end before cleanup looks for them, and
    // a holder that comes back (paused past its lease, a late call) is refused at the guard.
    const fenceError = await this.fence(containerId).then(
      () => undefined,
      (error: unknown) => {
        this.deps.report(error, `fence ${containerId}`);
        return errorMessage(error);
      },
    );
    let result: CleanupResult;
    try {
      result = await this.deps.cleaner.cleanup(containerId, level);
    } catch (error) {
      result = { containerId, success: false, durationMs: 0, stages: [{ stage: 'terminateBrowserProcesses', success: false, durationMs: 0, error: errorMessage(error) }] };
    }
    // Stood down meanwhile: the container was (or is being) removed under the cleanup, whose result says nothing.
    if (this.standingDown) return 'Cleaning';
    this.deps.emit('cleanupCompleted', { ...result, level });
    const overMemory = this.restartWhenFree.delete(containerId) && result.success && (await this.stillOverMemory(containerId));
    const decision = afterCleanup({ cleanup: result, resetOnRelease: this.deps.config.cleanup.resetOnRelease, overMemory, ...(fenceError === undefined ? {} : { fenceError }) });
    if (decision.next === 'available') {
      await this.move(containerId, 'Cleaning', 'Available');
      this.deps.onAvailable();
      return 'Available';
    }
    await this.move(containerId, 'Cleaning', 'Resetting', decision.reason);
    const reset = await this.runReset(containerId, decision.strategy);
    return reset.success ? 'Available' : (await this.deps.store.getContainer(containerId)).state;
  }

  private async recoverNow(containerId: string): Promise<ContainerState> {
    if (this.standingDown) return (await this.deps.store.getContainer(containerId)).state;
    const attempts = (this.recoveryAttempts.get(containerId) ?? 0) + 1;
    this.recoveryAttempts.set(containerId, attempts);
    if (recoveryStep(attempts) === 'quarantine') {
      this.deps.logger.error(`Container ${containerId} failed ${MAX_RECOVERY_ATTEMPTS} recoveries in a row; it stays Unhealthy (quarantined). Check its logs.`);
      this.deps.emit('containerQuarantined', { containerId, attempts: attempts - 1 });
      return 'Unhealthy';
    }
    const t0 = this.deps.clock.monotonic();
    // A revoked holder loses the member now if its guard still answers (it is fenced again before reuse).
    await this.fence(containerId).catch(() => undefined);
    await this.move(containerId, 'Unhealthy', 'Resetting');
    const result = await this.runReset(containerId, this.deps.config.cleanup.resetOnHealthFailure);
    if (result.success) {
      this.recoveryAttempts.delete(containerId);
      this.deps.emit('containerRecovered', { containerId, durationMs: Math.round(this.deps.clock.monotonic() - t0) });
      return 'Available';
    }
    return (await this.deps.store.getContainer(containerId)).state;
  }

  /** With the container in Resetting: reset (the resetter escalates), then health-gate it back into the pool. */
  private async runReset(containerId: string, strategy: ResetStrategy): Promise<ResetResult> {
    const { resetter, health, config, runtime, store } = this.deps;
    let result: ResetResult;
    try {
      result = await resetter.reset(containerId, strategy);
    } catch (error) {
      result = { containerId, requested: strategy, success: false, durationMs: 0, attempts: [{ strategy, success: false, durationMs: 0, error: errorMessage(error) }] };
    }
    this.deps.emit('resetCompleted', { ...result, actor: 'coordinator' });
    const spec = specOf(config.containerSpecs, containerId);
    const report = result.success ? await health.isContainerReady(spec.port, containerId, { timeoutMs: config.health.startupTimeoutMs, starting: true }) : undefined;
    // A restarted guard admits no lease until fenced; a failed fence sends the member to a restart.
    const fenceError = report?.ready ? await this.fence(containerId).then(() => undefined, (error: unknown) => errorMessage(error)) : undefined;
    if (report?.ready && fenceError === undefined) {
      await this.move(containerId, 'Resetting', 'Available');
      this.deps.emit('containerHealthy', { containerId, report });
      this.deps.onAvailable();
      return result;
    }
    // Every strategy failed (or the container is not healthy after it): restart it from scratch.
    const reason = fenceError !== undefined ? `fence failed after reset: ${fenceError}` : report ? `health stage ${report.failedStage} failed after reset` : `reset failed: ${result.attempts.at(-1)?.error ?? 'unknown'}`;
    await this.move(containerId, 'Resetting', 'Starting', reason);
    try {
      await runtime.recreate(containerId);
      const gate = await health.isContainerReady(spec.port, containerId, { timeoutMs: config.health.startupTimeoutMs, starting: true });
      if (!gate.ready) throw healthGateError(gate, { containerName: spec.name });
      await this.fence(containerId);
      await this.move(containerId, 'Starting', 'Available');
      this.deps.emit('containerHealthy', { containerId, report: gate });
      this.deps.onAvailable();
      return { ...result, success: true, applied: 'recovery' };
    } catch (error) {
      await this.move(containerId, 'Starting', 'Unhealthy', errorMessage(error)).catch(() => undefined);
      this.deps.report(error, `recreate ${containerId}`);
      const record = await store.getContainer(containerId).catch(() => undefined);
      this.deps.emit('containerUnhealthy', { containerId, consecutiveFailures: record?.consecutiveFailures ?? 0, reason: errorMessage(error), cause: 'recreate-failed' });
      // Try again later through recovery (bounded by MAX_RECOVERY_ATTEMPTS).
      this.deps.clock.setTimeout(() => void this.recover(containerId).catch(() => undefined), config.health.healthCheckIntervalMs);
      return { ...result, success: false };
    }
  }

  private async stillOverMemory(containerId: string): Promise<boolean> {
    try {
      const stats = await this.deps.runtime.stats(containerId);
      const spec = specOf(this.deps.config.containerSpecs, containerId);
      return stats.memoryMB > memoryThresholdMB(this.deps.config.health.memoryThresholdMB, spec.memoryMB);
    } catch (error) {
      this.deps.report(error, `memory re-check of ${containerId}`);
      return true;
    }
  }
}
