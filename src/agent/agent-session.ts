import type { Clock } from '../clock/clock.js';
import type { PoolConfig } from '../config/pool-config.js';
import { isPoolError, PoolError } from '../errors/pool-error.js';
import { createPoolManager } from '../pool/create-pool-manager.js';
import type { ContainerPoolManager } from '../pool/container-pool-manager.js';
import type { PoolLogger } from '../pool/pool-events.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import type { MemberCredentials } from '../runtime/member-credentials.js';
import { fenceMember } from '../runtime/member-fence.js';
import type { HostRegistry } from '../store/host-registry.js';
import type { PoolStore } from '../store/pool-store.js';
import type { AgentControlTarget } from './agent-control-server.js';
import { HostLeaseKeeper } from './host-lease-keeper.js';
import { watchStaleEpoch } from './stale-epoch-watch.js';

/**
 * A guard floor above every lease token the pool can hand out: fencing at it refuses every lease credential
 * (the guard accepts any safe integer ≥ 1). Pool credentials (health checks) still pass.
 */
export const CLOSED_FLOOR = Number.MAX_SAFE_INTEGER;
/** Budget of one member's fence when the agent fences itself, ms: the guards are local; a hung one must not hold the rest. */
const SELF_FENCE_TIMEOUT_MS = 2_000;

export interface AgentSessionDeps {
  hostId: string;
  ttlMs: number;
  config: PoolConfig;
  registry: HostRegistry;
  credentials: MemberCredentials;
  clock: Clock;
  logger: PoolLogger;
  /** A new runtime per epoch: a manager's shutdown closes the one it had. */
  makeRuntime: () => ContainerRuntime;
  /**
   * The serving session fenced itself (self-fence or STALE_EPOCH); the agent claims the host again. A session that
   * fences while its members start does not call it: its start() rejects STALE_EPOCH instead.
   */
  onFenced: (session: AgentSession, why: string) => void;
}

/**
 * One epoch of a host agent: the host lease keeper and the pool manager that runs this host's members on the
 * epoch's scoped store. When the keeper fences, the members' guards are closed to every lease at once (the
 * holders are cut; the store will revoke their leases as host-lost once the lease runs out or a newer epoch
 * reaps them), the manager shuts down (its containers stop) and the agent starts a new session on a new epoch.
 */
export class AgentSession {
  readonly manager: ContainerPoolManager;
  readonly store: PoolStore;
  private readonly keeper: HostLeaseKeeper;
  private state: 'starting' | 'serving' | 'fenced' | 'closing' = 'starting';
  private stopped: Promise<void> | undefined;
  private fencedWhy: string | undefined;
  /** A write of this epoch refused after the fence is logged once (a renewal or write that waited out a dead link). */
  private lateRefusalLogged = false;
  private readonly runtime: ContainerRuntime;
  readonly members: ReadonlySet<string>;

  constructor(
    private readonly deps: AgentSessionDeps,
    readonly epoch: number,
  ) {
    this.members = new Set(deps.config.containerSpecs.map((s) => s.id));
    this.keeper = new HostLeaseKeeper({
      ttlMs: deps.ttlMs,
      clock: deps.clock,
      renew: () =>
        deps.registry.renew(deps.hostId, epoch, deps.ttlMs).catch((error: unknown) => {
          if (isPoolError(error, 'STALE_EPOCH')) this.noteLateRefusal(error.message);
          throw error;
        }),
      onFence: (why) => void this.fence(why),
      onRenewFailure: (error) => deps.logger.warn(`host lease renewal failed (retrying): ${error instanceof Error ? error.message : String(error)}`),
    });
    this.store = watchStaleEpoch(deps.registry.scopedStore(deps.hostId, epoch), (message) => {
      this.noteLateRefusal(message);
      this.keeper.staleEpoch(message);
    });
    this.runtime = deps.makeRuntime();
    this.manager = createPoolManager({ config: deps.config, runtime: this.runtime, store: this.store, credentials: deps.credentials, clock: deps.clock, logger: deps.logger });
  }

  /**
   * Renews from `claimSentAt` (monotonic ms the claim was sent) and brings the members up; resolves once all serve.
   * Rejects STALE_EPOCH when the epoch fenced itself before its members served (a renewal that could not get
   * through, or a write refused, while they started): the partial start is stopped first, the caller claims anew.
   */
  async start(claimSentAt: number): Promise<void> {
    // Renewals first: starting Chromium-backed members can take longer than the host lease.
    this.keeper.start(claimSentAt);
    let failure: { error: unknown } | undefined;
    try {
      await this.manager.initialize();
    } catch (error) {
      failure = { error };
    }
    if (this.state === 'fenced') {
      // The fence's shutdown may have run while a member was still launching: stop each member again once the
      // start settled (the runtime queues a stop behind that member's start), so none outlives its epoch.
      await this.stop();
      await Promise.allSettled(this.deps.config.containerSpecs.map((spec) => this.runtime.stop(spec.id)));
      throw new PoolError(
        'STALE_EPOCH',
        `Host ${this.deps.hostId} epoch ${this.epoch} fenced itself while its members were starting (${this.fencedWhy}); its members were stopped. The agent claims the host again on a new epoch; if this repeats, check that this host reaches Redis.`,
        { hostId: this.deps.hostId, epoch: this.epoch },
      );
    }
    if (failure) {
      await this.stop();
      throw failure.error;
    }
    if (this.state === 'starting') this.state = 'serving';
  }

  get serving(): boolean {
    return this.state === 'serving';
  }

  /** What the control server serves while this epoch serves. */
  target(publicKey: string): AgentControlTarget | undefined {
    if (this.state !== 'serving') return undefined;
    return {
      publicKey,
      members: this.members,
      getLease: (id) => this.store.getLease(id),
      resetLeased: (ref, strategy) => this.manager.resetLeased(ref, strategy),
      readLeasedTrace: (ref, name, budget) => this.manager.readLeasedTrace(ref, name, budget),
    };
  }

  /** Cleans members whose lease ended elsewhere (the store's recycle notice, or the poll). */
  recycle(ids: readonly string[]): void {
    if (this.state !== 'serving') return;
    void this.manager.recycleReleased(ids.filter((id) => this.members.has(id))).catch((error: unknown) => this.deps.logger.warn(`recycle: ${String(error)}`));
  }

  /** Members in Cleaning on this host (the poll behind the at-most-once notices). */
  async cleaningMembers(): Promise<string[]> {
    return (await this.store.listContainers()).filter((c) => c.state === 'Cleaning' && this.members.has(c.id)).map((c) => c.id);
  }

  /** Stops renewing without fencing (drain: the agent leaves the registry itself). */
  stopRenewing(): Promise<void> {
    return this.keeper.stop();
  }

  /** Stops the manager (its containers stop and the runtime closes). Safe to call twice. */
  stop(): Promise<void> {
    if (this.state !== 'fenced') this.state = 'closing';
    this.stopped ??= (async () => {
      await this.keeper.stop();
      await this.manager.shutdown();
    })();
    return this.stopped;
  }

  /** Self-fence: no lease is admitted by any member from now on, then everything of this epoch stops. */
  private async fence(why: string): Promise<void> {
    if (this.state === 'fenced' || this.state === 'closing') return;
    const wasStarting = this.state === 'starting';
    this.state = 'fenced';
    this.fencedWhy = why;
    this.deps.logger.error(`host ${this.deps.hostId} epoch ${this.epoch} stops serving (self-fence): ${why}`);
    const results = await Promise.allSettled(
      this.deps.config.containerSpecs.map((spec) =>
        fenceMember({ containerId: spec.id, port: spec.port, credential: this.deps.credentials.forPool(spec.id) }, CLOSED_FLOOR, SELF_FENCE_TIMEOUT_MS),
      ),
    );
    const failed = results.filter((r) => r.status === 'rejected').length;
    // The wall-clock moment lets an operator (and the link-down fault) set the fence against the host lease's
    // expiry in Redis: both are the machine's real-time clock when agent and Redis share a machine.
    this.deps.logger.info(
      `host ${this.deps.hostId} epoch ${this.epoch}: ${this.members.size - failed} of ${this.members.size} member guard(s) closed to every lease at ${new Date(this.deps.clock.now()).toISOString()}`,
    );
    if (failed) this.deps.logger.warn(`${failed} member guard(s) could not be closed; their members stop with the epoch`);
    if (!wasStarting) this.deps.onFenced(this, why);
    await this.stop().catch((error: unknown) => this.deps.logger.warn(`stopping epoch ${this.epoch}: ${String(error)}`));
  }

  /** A STALE_EPOCH refusal that came after the fence (a write that waited out a dead link) is logged, once. */
  private noteLateRefusal(message: string): void {
    if (this.state !== 'fenced' || this.lateRefusalLogged) return;
    this.lateRefusalLogged = true;
    this.deps.logger.info(`host ${this.deps.hostId} epoch ${this.epoch} (fenced): the store refused a late write of this epoch (STALE_EPOCH): ${message}`);
  }
}
