import { isIP } from 'node:net';
import { SystemClock, type Clock, type TimerHandle } from '../clock/clock.js';
import { parsePoolOptions, type PoolConfig } from '../config/pool-config.js';
import { isPoolError, PoolError } from '../errors/pool-error.js';
import { planRuntime, type RuntimePlan } from '../coordinator/pool-runtime-factory.js';
import type { PoolLogger } from '../pool/pool-events.js';
import { newCredentialKeys } from '../runtime/mcp-guard.js';
import { credentialKeysFromStored, MemberCredentials, storedFromCredentialKeys } from '../runtime/member-credentials.js';
import { DockerRuntime } from '../runtime/docker/docker-runtime.js';
import { ProcessRuntime } from '../runtime/process/process-runtime.js';
import { redactUrl } from '../store/redact-url.js';
import { RedisHostRegistry } from '../store/redis-host-registry.js';
import { RedisPoolStore } from '../store/redis-store.js';
import { agentMemberSpecs, type AgentOptions } from './agent-options.js';
import { poolKeyPrefix } from '../store/redis-acl.js';
import { startAgentControlServer, type AgentControlServer } from './agent-control-server.js';
import { AgentSession } from './agent-session.js';
import { hostLeaseTimings } from './host-lease-policy.js';

/** How often the agent looks for its members in Cleaning besides the store's notices (at-most-once), ms. */
export const RECYCLE_POLL_MS = 1_000;
/** How often a drain looks whether its members are still leased, ms. */
const DRAIN_POLL_MS = 250;

export interface HostAgentDeps {
  clock?: Clock;
  /** Progress and warnings (stderr in the CLI). */
  logger: PoolLogger;
  env?: NodeJS.ProcessEnv;
}

/**
 * `cinnamon-pool agent` (issue 11): contributes this machine's members to a shared pool in Redis. start() opens
 * the store, starts the control endpoint, claims the host (HOST_TAKEN when another live agent holds the id),
 * loads or creates the pool's signing keys and brings the members up on the epoch's scoped store; it undoes
 * itself when a step fails. While it serves, members released anywhere are cleaned here (notices plus a poll),
 * and when it cannot renew its host lease it fences itself and claims the host again on a new epoch.
 * drain() stops new grants, waits for holders (at most drainGraceMs), leaves the registry (revoking the rest)
 * and stops everything.
 */
export class HostAgent {
  readonly options: AgentOptions;
  private readonly clock: Clock;
  private readonly logger: PoolLogger;
  private readonly env: NodeJS.ProcessEnv;
  private readonly config: PoolConfig;
  private store: RedisPoolStore | undefined;
  private registry: RedisHostRegistry | undefined;
  private control: AgentControlServer | undefined;
  private session: AgentSession | undefined;
  private credentials: MemberCredentials | undefined;
  private plan: RuntimePlan | undefined;
  private unsubscribe: (() => Promise<void>) | undefined;
  private pollTimer: TimerHandle | undefined;
  private reclaimTimer: TimerHandle | undefined;
  /** Ends the pause between claims at once (close). */
  private wakeReclaim: (() => void) | undefined;
  private phase: 'new' | 'serving' | 'draining' | 'closed' = 'new';
  private closing: Promise<void> | undefined;
  /** The agent left the registry (drain or a second signal): it leaves once. */
  private left = false;

  constructor(options: AgentOptions, deps: HostAgentDeps) {
    this.options = options;
    this.clock = deps.clock ?? new SystemClock();
    this.logger = deps.logger;
    this.env = deps.env ?? process.env;
    this.config = parsePoolOptions({ poolId: options.poolId, containerSpecs: agentMemberSpecs(options) });
  }

  /** The epoch serving now (undefined between epochs). */
  get epoch(): number | undefined {
    return this.session?.serving ? this.session.epoch : undefined;
  }

  get controlUrl(): string | undefined {
    return this.control?.url;
  }

  /** Resolves with the ready line once every member is registered and healthy. */
  async start(): Promise<string> {
    const { options } = this;
    const keyPrefix = poolKeyPrefix(options.poolId);
    try {
      this.logger.info(`opening Redis ${redactUrl(options.redisUrl)} (key prefix '${keyPrefix}')`);
      this.store = new RedisPoolStore({ redis: options.redisUrl, keyPrefix, serverTime: true });
      this.registry = new RedisHostRegistry(this.store);
      const keys = await this.registry.signingKeys(() => storedFromCredentialKeys(newCredentialKeys()));
      this.credentials = new MemberCredentials(credentialKeysFromStored(keys));
      this.logger.info(`deciding the ${options.runtime} runtime`);
      this.plan = await planRuntime(options.runtime, { env: this.env });
      this.control = await startAgentControlServer({
        host: isIP(options.advertise) ? options.advertise : '0.0.0.0',
        port: options.controlPort,
        advertise: options.advertise,
        hostId: options.hostId,
        target: () => (this.credentials ? this.session?.target(this.credentials.keyOf(options.hostId)) : undefined),
        onError: (message) => this.logger.warn(message),
      });
      await this.serveUntilServing(false);
      this.unsubscribe = await this.store.subscribeRecycle((ids) => this.session?.recycle(ids));
      this.schedulePoll();
      this.phase = 'serving';
      return this.readyLine();
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  private readyLine(): string {
    const { options } = this;
    const ports = this.config.containerSpecs.map((s) => s.port);
    const range = ports.length > 1 ? `${ports[0]}-${ports.at(-1)}` : `${ports[0]}`;
    return (
      `cinnamon-pool agent: host ${options.hostId} (epoch ${this.session!.epoch}) serves ${ports.length} healthy members at ${options.advertise}:${range} ` +
      `for pool '${options.poolId}' (${redactUrl(options.redisUrl)}); control ${this.control!.url}`
    );
  }

  /** Claims the host (a new epoch, reaping what an earlier one left) and brings the members up on it. */
  private async serveNewEpoch(): Promise<void> {
    const { options } = this;
    const registry = this.registry!;
    const claimSentAt = this.clock.monotonic();
    const claim = await registry.claim({ hostId: options.hostId, address: options.advertise, controlUrl: this.control!.url, runtime: options.runtime, ttlMs: options.hostLeaseMs });
    const reaped = claim.reaped.removedMembers.length + claim.reaped.revoked.length;
    this.logger.info(`claimed host ${options.hostId}, epoch ${claim.epoch}${reaped ? ` (reaped ${claim.reaped.removedMembers.length} member(s), ${claim.reaped.revoked.length} lease(s) of an earlier epoch)` : ''}; starting and gating ${this.config.containers} member(s)`);
    const session = new AgentSession(
      {
        hostId: options.hostId,
        ttlMs: options.hostLeaseMs,
        config: this.config,
        registry,
        credentials: this.credentials!,
        clock: this.clock,
        logger: this.logger,
        makeRuntime: () => this.makeRuntime(),
        onFenced: (fenced) => this.onFenced(fenced),
      },
      claim.epoch,
    );
    this.session = session;
    await session.start(claimSentAt);
    // A drain or close that came while this epoch started (a re-claim after a self-fence) must not leave it running.
    if (this.phase === 'closed' || this.phase === 'draining') {
      await session.stop();
      await registry.leave(options.hostId, claim.epoch, `host-draining: agent ${options.hostId} stopped`).catch(() => undefined);
      throw new PoolError('POOL_SHUT_DOWN', `Agent of host ${options.hostId} stopped while epoch ${claim.epoch} was starting.`, { hostId: options.hostId });
    }
  }

  private makeRuntime() {
    const plan = this.plan!;
    if (plan.decision.kind === 'process') {
      // Guards on every interface (the pool's own health checks and fences use 127.0.0.1), admitting the advertised Host.
      return new ProcessRuntime({ clock: this.clock, webmcp: this.config.mcpServer.webmcp, bindAddress: '0.0.0.0', advertisedHost: this.options.advertise });
    }
    if (!plan.image) throw new PoolError('RUNTIME_ERROR', 'Internal: docker runtime chosen without an image.', { operation: 'create-runtime' });
    // Published on every interface (health checks and fences use 127.0.0.1), each guard admitting the advertised Host.
    return new DockerRuntime({ image: plan.image, clock: this.clock, webmcp: this.config.mcpServer.webmcp, bindAddress: '0.0.0.0', advertisedHost: this.options.advertise });
  }

  /**
   * Claims the host and serves a new epoch. An epoch that fences itself while its members start (STALE_EPOCH from
   * its start: a renewal could not get through, or the store refused a write) has stopped its partial start; the
   * host is claimed again, every renew interval, until an epoch serves. `afterFence` (a re-claim after a serving
   * epoch fenced): every failure is retried, HOST_TAKEN while the old lease runs out and an unreachable Redis
   * among them; otherwise only STALE_EPOCH is, and a first start fails as before (HOST_TAKEN, a member's gate).
   * Rejects only once the agent drains or closes.
   */
  private async serveUntilServing(afterFence: boolean): Promise<void> {
    const { hostId, hostLeaseMs } = this.options;
    for (let retryAll = afterFence; ; ) {
      try {
        await this.serveNewEpoch();
        return;
      } catch (error) {
        if (this.stopping) throw error;
        if (!retryAll && !isPoolError(error, 'STALE_EPOCH')) throw error;
        // After a fence, the host lease of the fenced epoch may still be live (HOST_TAKEN) until Redis expires it.
        retryAll = true;
        const pauseMs = hostLeaseTimings(hostLeaseMs).renewEveryMs;
        this.logger.warn(`claiming host ${hostId} again in ${pauseMs} ms: ${error instanceof Error ? error.message : String(error)}`);
        await this.pauseBeforeClaim(pauseMs);
        if (this.stopping) {
          throw new PoolError('POOL_SHUT_DOWN', `Agent of host ${hostId} stopped while claiming the host again.`, { hostId });
        }
      }
    }
  }

  /** Draining or closed: no new epoch may start. */
  private get stopping(): boolean {
    return this.phase === 'closed' || this.phase === 'draining';
  }

  private pauseBeforeClaim(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wakeReclaim = resolve;
      this.reclaimTimer = this.clock.setTimeout(() => {
        this.reclaimTimer = this.wakeReclaim = undefined;
        resolve();
      }, ms, { keepAlive: true });
    });
  }

  /** After a serving epoch's self-fence: stop it, claim the host again until it is ours (the old lease must run out first), serve anew. */
  private onFenced(fenced: AgentSession): void {
    // A fence between the first epoch's start and the agent's 'serving' (phase 'new') is handled here too.
    if (this.session !== fenced || this.stopping) return;
    void fenced
      .stop()
      .then(() => this.serveUntilServing(true))
      .then(() => this.logger.info(`serving again: host ${this.options.hostId} epoch ${this.session?.epoch}`))
      .catch((error: unknown) => {
        if (this.phase !== 'closed') this.logger.warn(`host ${this.options.hostId} stopped claiming: ${error instanceof Error ? error.message : String(error)}`);
      });
  }

  private schedulePoll(): void {
    if (this.phase === 'closed') return;
    this.pollTimer = this.clock.setTimeout(() => {
      const session = this.session;
      if (this.phase !== 'serving' || !session?.serving) return this.schedulePoll();
      void session
        .cleaningMembers()
        .then((ids) => session.recycle(ids))
        .catch(() => undefined)
        .finally(() => this.schedulePoll());
    }, RECYCLE_POLL_MS);
  }

  /**
   * SIGTERM/SIGINT: no new grants, holders finish (at most drainGraceMs), the rest are revoked as the agent leaves
   * the registry, then members and connections stop. Safe to call twice.
   */
  drain(): Promise<void> {
    this.closing ??= this.doDrain();
    return this.closing;
  }

  private async doDrain(): Promise<void> {
    const { options } = this;
    const session = this.session;
    if (this.phase === 'serving' && session?.serving && this.registry) {
      this.phase = 'draining';
      const reason = `host-draining: agent ${options.hostId} stopped`;
      try {
        await this.registry.setDraining(options.hostId, session.epoch);
        this.logger.info(`draining: no new grants on host ${options.hostId}; waiting up to ${options.drainGraceMs} ms for its holders`);
        const deadline = this.clock.monotonic() + options.drainGraceMs;
        while (this.clock.monotonic() < deadline) {
          const leased = (await this.store!.listLeases()).filter((l) => session.members.has(l.containerId));
          if (leased.length === 0) break;
          await new Promise<void>((resolve) => this.clock.setTimeout(resolve, Math.min(DRAIN_POLL_MS, deadline - this.clock.monotonic()), { keepAlive: true }));
        }
        await session.stopRenewing();
        if (!this.left) {
          this.left = true;
          const revoked = await this.registry.leave(options.hostId, session.epoch, reason);
          this.logger.info(`left the pool${revoked.length ? `, revoking ${revoked.length} lease(s) still held: ${revoked.map((l) => l.leaseId).join(', ')}` : ''}`);
        }
      } catch (error) {
        this.logger.warn(`drain: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    await this.close();
  }

  /** Best effort, at once (a second signal): leave the registry and stop. */
  async leaveNow(): Promise<void> {
    const session = this.session;
    if (session && this.registry && !this.left) {
      this.left = true;
      await this.registry.leave(this.options.hostId, session.epoch, `host-draining: agent ${this.options.hostId} stopped`).catch(() => undefined);
    }
  }

  /** Stops everything this agent started; every step runs even when one fails. Safe to call twice. */
  async close(): Promise<void> {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    if (this.pollTimer) this.clock.clearTimeout(this.pollTimer);
    if (this.reclaimTimer) this.clock.clearTimeout(this.reclaimTimer);
    this.wakeReclaim?.();
    const steps: Array<[string, () => Promise<unknown> | undefined]> = [
      ['unsubscribe', () => this.unsubscribe?.()],
      ['control server', () => this.control?.close()],
      ['members', () => this.session?.stop()],
      ['store', () => this.store?.close()],
    ];
    for (const [what, step] of steps) {
      try {
        await step();
      } catch (error) {
        this.logger.warn(`stopping ${what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
}

/** HOST_TAKEN and other start failures as the CLI prints them. */
export function describeStartFailure(error: unknown, options: AgentOptions): string {
  if (isPoolError(error, 'HOST_TAKEN')) {
    return `${error.message} (pool '${options.poolId}' on ${redactUrl(options.redisUrl)})`;
  }
  return isPoolError(error) ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
}

