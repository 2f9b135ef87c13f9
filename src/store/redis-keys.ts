import { PoolError } from '../errors/pool-error.js';

/**
 * Every Redis key the store uses, built here and nowhere else. Lua scripts receive either full keys or, for
 * records addressed by an id only the script knows (a lease it just granted), one of the `...Prefix` strings
 * below, and append the id: so the naming scheme still lives in this file alone.
 *
 * For Redis Cluster, give the prefix a hash tag (`{cinnamon-qa}`): scripts touch many keys, which must share a slot.
 */
export class RedisKeys {
  /** HASH containerId → ContainerRecord JSON. */
  readonly containers: string;
  /** ZSET containerId → registration index: dispatch offers containers in this order. */
  readonly containerOrder: string;
  /** ZSET requestId → queue score (priority rank * 2^32 + seq): ascending score is service order. */
  readonly queue: string;
  /** HASH requestId → QueuedRequest JSON, for every member of `queue`. */
  readonly requests: string;
  /** ZSET leaseId → expiresAt. The set of active leases and the source of truth for reclaim. */
  readonly leaseExpiry: string;
  /** STRING counter: the arrival counter behind QueuedRequest.seq. */
  readonly requestSeq: string;
  /** STRING counter: the pool-wide fencing token; only ever incremented. */
  readonly tokenSeq: string;
  /** HASH counter name → value (StoreCounters). */
  readonly counters: string;
  /** LIST of AuditEvent JSON, oldest first, capped. */
  readonly audit: string;
  /** LIST of durations over all tests, oldest first, capped. */
  readonly historyAll: string;
  /** `+ leaseId` → STRING Lease JSON (expires as a safety net, ttl + grace). */
  readonly leasePrefix: string;
  /** `+ leaseId` → STRING EndedLease JSON (expires: kept only so late callers get a precise error). */
  readonly endedPrefix: string;
  /** `+ requestId` → STRING leaseId the request was granted (expires with the lease's safety net). */
  readonly grantPrefix: string;
  /** `+ testRunId` → STRING extension count (expires: one run's worth). */
  readonly extensionPrefix: string;
  /** `+ testId` → LIST of that test's durations, capped. */
  readonly historyTestPrefix: string;
  /** `+ requestId` → STRING the QueuedRequest JSON as it was granted (grantsFor; expires with the lease key's safety net). */
  readonly grantedRequestPrefix: string;
  /** HASH hostId → HostRecord JSON: the machines contributing members (shared pool, issue 11). */
  readonly hosts: string;
  /** `+ hostId` → STRING the holding epoch, with the host lease TTL (PX): present while the agent is alive. */
  readonly hostLeasePrefix: string;
  /** `+ hostId` → STRING counter: the host's epoch; only ever incremented. */
  readonly hostEpochPrefix: string;
  /** STRING StoredSigningKeys JSON, written once (SET NX) by the first participant. */
  readonly signingKeys: string;
  /** STRING counter: the pool epoch, bumped when the Redis master changes (pool-epoch-9.lua). */
  readonly poolEpoch: string;
  /** STRING the run id of the Redis master the pool epoch belongs to. */
  readonly poolEpochMaster: string;
  /** Pub/sub channel (not a key): the request ids a dispatch pass granted, space-separated. */
  readonly grantsChannel: string;
  /** Pub/sub channel (not a key): the container ids that went to Cleaning or Unhealthy, space-separated. */
  readonly recycleChannel: string;
  /** Pub/sub channel (not a key): the lease ids a host's removal (host-lost, leave) or a failover revoked, space-separated. */
  readonly revocationsChannel: string;

  constructor(readonly prefix: string) {
    if (!/^[^\s]{1,200}$/.test(prefix)) {
      throw new PoolError(
        'INVALID_OPTIONS',
        `Invalid Redis key prefix ${JSON.stringify(prefix)}: use 1-200 characters without spaces (for example the poolId 'cinnamon-qa').`,
        { prefix },
      );
    }
    this.containers = `${prefix}:containers`;
    this.containerOrder = `${prefix}:container-order`;
    this.queue = `${prefix}:queue`;
    this.requests = `${prefix}:requests`;
    this.leaseExpiry = `${prefix}:lease-expiry`;
    this.requestSeq = `${prefix}:seq:request`;
    this.tokenSeq = `${prefix}:seq:token`;
    this.counters = `${prefix}:counters`;
    this.audit = `${prefix}:audit`;
    this.historyAll = `${prefix}:history:all`;
    this.leasePrefix = `${prefix}:lease:`;
    this.endedPrefix = `${prefix}:ended:`;
    this.grantPrefix = `${prefix}:grant:`;
    this.extensionPrefix = `${prefix}:extensions:`;
    this.historyTestPrefix = `${prefix}:history:test:`;
    this.grantedRequestPrefix = `${prefix}:granted-request:`;
    this.hosts = `${prefix}:hosts`;
    this.hostLeasePrefix = `${prefix}:host-lease:`;
    this.hostEpochPrefix = `${prefix}:seq:host-epoch:`;
    this.signingKeys = `${prefix}:signing-keys`;
    this.poolEpoch = `${prefix}:pool-epoch`;
    this.poolEpochMaster = `${prefix}:pool-epoch:master`;
    this.grantsChannel = `${prefix}:grants`;
    this.recycleChannel = `${prefix}:recycle`;
    this.revocationsChannel = `${prefix}:revocations`;
  }

  lease(leaseId: string): string {
    return this.leasePrefix + leaseId;
  }

  ended(leaseId: string): string {
    return this.endedPrefix + leaseId;
  }

  grant(requestId: string): string {
    return this.grantPrefix + requestId;
  }

  grantedRequest(requestId: string): string {
    return this.grantedRequestPrefix + requestId;
  }

  hostLease(hostId: string): string {
    return this.hostLeasePrefix + hostId;
  }

  hostEpoch(hostId: string): string {
    return this.hostEpochPrefix + hostId;
  }

  extensions(testRunId: string): string {
    return this.extensionPrefix + testRunId;
  }

  history(testId?: string): string {
    return testId === undefined ? this.historyAll : this.historyTestPrefix + testId;
  }
}
