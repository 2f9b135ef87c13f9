import type { ResetResult } from '../cleanup/cleanup-types.js';
import type { TraceFile } from '../cleanup/trace-files.js';
import type { ResetStrategy } from '../config/schemas.js';
import type { ContainerState } from '../domain/container-state.js';
import { isPoolError, PoolError } from '../errors/pool-error.js';
import type { MemberEndpoint, PoolHost, PoolHostWiring } from '../pool/pool-host.js';
import { AGENT_API_PATHS, agentTraceResponseSchema, type AgentResetBody, type AgentTraceBody } from '../protocol/agent-api.js';
import { credentialKeysFromStored, MemberCredentials } from '../runtime/member-credentials.js';
import type { HostListing, HostRegistry, StoredSigningKeys } from '../store/host-registry.js';
import type { Lease, LeasedMember } from '../store/pool-store.js';
import { callAgent, type AgentTarget } from './agent-control-client.js';

/** @defaultValue 300000 ms: a holder's reset through its host's agent (a hard reset recreates the container). */
export const AGENT_RESET_BUDGET_MS = 300_000;
/** @defaultValue 5000 ms: added to a trace read's own budget for the hop to the agent and back. */
const AGENT_TRACE_MARGIN_MS = 5_000;

export interface RemoteHostsOptions {
  wiring: PoolHostWiring;
  registry: HostRegistry;
  /** Where the pool's Redis is, redacted: for the NO_LIVE_HOST message. */
  where: string;
  /** @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
}

/** Thrown by the `generate` a shard hands signingKeys: a shard never creates the pool's keys. */
class NoKeysYet extends Error {}

/**
 * The members of a shared pool as a shard sees them (issue 11): host agents (`cinnamon-pool agent`) start, clean,
 * reset and recover them on their own machines; this shard hands them out. start() checks that a live host serves
 * the pool and loads the pool's signing keys (which the first agent created); endpoints come from the members'
 * records; a holder's reset and trace go to the member's agent with the lease's credential; hosts whose agents
 * stopped renewing are reaped at every sweep. Nothing here starts or stops a container.
 */
export class RemoteHosts implements PoolHost {
  private credentials: MemberCredentials | undefined;
  private readonly endpoints = new Map<string, MemberEndpoint>();
  /** The hosts found at the last listing, by id. */
  private hostsById = new Map<string, HostListing>();
  /** Which host served a member when last seen (a reaped host's members are gone from the store). */
  private readonly hostOfMember = new Map<string, string>();

  constructor(private readonly options: RemoteHostsOptions) {}

  /** The live hosts serving members, as found by start() (for the run's first log line). */
  get hosts(): HostListing[] {
    return [...this.hostsById.values()].filter(serving);
  }

  async start(): Promise<number> {
    await this.refreshHosts();
    const hosts = this.hosts;
    const members = hosts.reduce((n, h) => n + h.members.length, 0);
    if (members === 0) throw this.noLiveHost('no live host agent serves it');
    this.credentials = new MemberCredentials(credentialKeysFromStored(await this.signingKeys()));
    return members;
  }

  resume(): Promise<void> {
    return this.start().then(() => undefined);
  }

  /**
   * From the lease's Lease.member when it names this member (the grant wrote it from the member's record in the
   * same script: no second round trip to Redis), else from the member's record.
   */
  async endpoint(containerId: string, lease?: Lease): Promise<MemberEndpoint> {
    const place = lease?.containerId === containerId && lease.member ? lease.member : await this.placeOf(containerId);
    this.hostOfMember.set(containerId, place.hostId);
    const key = `${containerId}\u0000${place.address}:${place.port}`;
    let found = this.endpoints.get(key);
    if (!found) {
      found = { id: containerId, name: place.name, port: place.port, url: `http://${urlHost(place.address)}:${place.port}/mcp` };
      this.endpoints.set(key, found);
    }
    return found;
  }

  private async placeOf(containerId: string): Promise<LeasedMember> {
    const record = await this.options.wiring.store.getContainer(containerId);
    if (!record.address || !record.hostId) {
      throw new PoolError(
        'NO_LIVE_HOST',
        `Member ${containerId} of pool '${this.options.wiring.config.poolId}' has no address: no host agent registered it (a run in mode 'local' on the same Redis prefix?). ` +
          `Give local runs their own redisKeyPrefix or poolId.`,
        { containerId },
      );
    }
    return { hostId: record.hostId, name: record.name, address: record.address, port: record.port };
  }

  leaseCredential(lease: Lease): string {
    if (!this.credentials) throw new PoolError('POOL_NOT_INITIALIZED', 'The shared pool has not started: no signing keys loaded yet.');
    return this.credentials.forLease(lease.containerId, lease.leaseId, lease.token);
  }

  /** The member's agent cleans it (on the store's recycle notice): nothing to do here but say where it is. */
  async recycle(containerId: string): Promise<ContainerState> {
    return (await this.options.wiring.store.getContainer(containerId)).state;
  }

  async resetLeased(lease: Lease, strategy: ResetStrategy, holder?: string): Promise<ResetResult> {
    const body: AgentResetBody = { containerId: lease.containerId, leaseId: lease.leaseId, token: lease.token, strategy, ...(holder ? { holder } : {}) };
    return (await this.ask(lease, AGENT_API_PATHS.reset, body, AGENT_RESET_BUDGET_MS)) as ResetResult;
  }

  async readTrace(containerId: string, traceName: string, budgetMs: number): Promise<TraceFile[]> {
    const lease = await this.activeLeaseOn(containerId);
    const body: AgentTraceBody = { containerId, leaseId: lease.leaseId, token: lease.token, traceName, budgetMs };
    const answer = agentTraceResponseSchema.safeParse(await this.ask(lease, AGENT_API_PATHS.trace, body, budgetMs + AGENT_TRACE_MARGIN_MS));
    if (!answer.success) {
      throw new PoolError('RUNTIME_ERROR', `The host agent's answer to a trace read of ${containerId} is not a file list: ${answer.error.message}`, { containerId });
    }
    return answer.data.files.map((f) => ({ name: f.name, data: Buffer.from(f.base64, 'base64') }));
  }

  isBusy(): boolean {
    return false;
  }

  async resetIdle(containerId: string): Promise<ResetResult> {
    throw new PoolError('INVALID_ARGUMENT', `Reset idle members on their host: the agent does (member ${containerId} of a shared pool).`, { containerId });
  }

  /** Hosts whose agents stopped renewing: reaped (any participant may), their leases told to their holders. */
  async reapLost(): Promise<Array<{ lease: Lease; reason: string }>> {
    const reaped = await this.options.registry.reapExpired();
    if (!reaped.hosts.length) return [];
    for (const id of reaped.hosts) this.hostsById.delete(id);
    return reaped.revoked.map((lease) => {
      const hostId = this.hostOfMember.get(lease.containerId) ?? reaped.hosts.join(', ');
      return { lease, reason: `host-lost: the agent of ${hostId} stopped renewing its host lease; its members left the pool` };
    });
  }

  // The agents own the members: nothing to watch, wait for or stop here.
  async stopMonitor(): Promise<void> {}
  async settle(): Promise<void> {}
  async stopAll(_errors: unknown[]): Promise<void> {}

  private async ask(lease: Lease, path: string, body: Record<string, unknown>, budgetMs: number): Promise<unknown> {
    const target = await this.agentOf(lease.containerId);
    return callAgent(target, path, body, this.leaseCredential(lease), budgetMs, this.options.fetch);
  }

  private async agentOf(containerId: string): Promise<AgentTarget> {
    const record = await this.options.wiring.store.getContainer(containerId);
    const hostId = record.hostId;
    if (!hostId) throw new PoolError('NO_LIVE_HOST', `Member ${containerId} has no host: no host agent registered it.`, { containerId });
    this.hostOfMember.set(containerId, hostId);
    let host = this.hostsById.get(hostId);
    if (!host) {
      await this.refreshHosts();
      host = this.hostsById.get(hostId);
    }
    if (!host) throw new PoolError('NO_LIVE_HOST', `Host ${hostId} of member ${containerId} is not registered any more (its agent left or was reaped).`, { containerId, hostId });
    return { hostId, controlUrl: host.controlUrl };
  }

  private async activeLeaseOn(containerId: string): Promise<Lease> {
    const record = await this.options.wiring.store.getContainer(containerId);
    if (record.state !== 'Allocated' || !record.leaseId) {
      throw new PoolError('ALREADY_RELEASED', `Member ${containerId} holds no lease (it is ${record.state}).`, { containerId, state: record.state });
    }
    return this.options.wiring.store.getLease(record.leaseId);
  }

  private async refreshHosts(): Promise<void> {
    const listed = await this.options.registry.listHosts();
    this.hostsById = new Map(listed.map((h) => [h.hostId, h]));
    for (const h of listed) for (const m of h.members) this.hostOfMember.set(m, h.hostId);
  }

  private async signingKeys(): Promise<StoredSigningKeys> {
    try {
      return await this.options.registry.signingKeys(() => {
        throw new NoKeysYet();
      });
    } catch (error) {
      if (error instanceof NoKeysYet || (isPoolError(error) && error.cause instanceof NoKeysYet)) {
        throw this.noLiveHost('hosts are registered but the pool has no signing keys (no agent started it)');
      }
      throw error;
    }
  }

  private noLiveHost(why: string): PoolError {
    const { poolId } = this.options.wiring.config;
    return new PoolError(
      'NO_LIVE_HOST',
      `No host agent serves pool '${poolId}' at ${this.options.where} (${why}): start one on a machine with containers: ` +
        `\`npx cinnamon-pool agent --redis-url … --host-id <name> --containers 2 --base-port 3001 --runtime docker\`` +
        ` (with the same pool id or --prefix as this run).`,
      { poolId, where: this.options.where, hosts: [...this.hostsById.values()].map((h) => ({ hostId: h.hostId, live: h.live, draining: h.draining, members: h.members.length })) },
    );
  }
}

function serving(host: HostListing): boolean {
  return host.live && !host.draining && host.members.length > 0;
}

/** An IPv6 address goes in brackets in a URL. */
function urlHost(address: string): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
}
