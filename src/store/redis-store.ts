import { randomBytes } from 'node:crypto';
import type { ContainerSpec } from '../config/pool-config.js';
import { isContainerState, type ContainerState } from '../domain/container-state.js';
import { parsePriority, PRIORITY_RANK } from '../domain/priority.js';
import type {
  AuditEvent,
  CancelResult,
  ContainerRecord,
  CounterName,
  EndedLease,
  EnqueueResult,
  Grant,
  Lease,
  NewRequest,
  PoolStore,
  QueuedRequest,
  ResourceUsage,
  StoreCounters,
} from './pool-store.js';
import { corruptStateError } from './record-schemas.js';
import { finite, invalidArgument, nonEmpty, positiveFinite, tenantArguments } from './redis-arguments.js';
import { RedisScriptClient } from './redis-connection.js';
import { fenceArgs, fenceContext, type HostFence } from './redis-host-fence.js';
import { RedisKeys } from './redis-keys.js';
import { RedisNotifications } from './redis-notifications.js';
import { RedisFailoverWatch, type FailoverListener } from './redis-failover.js';
import { byGrantOrder, RedisRecordReader } from './redis-records.js';
import { RedisRunRecords } from './redis-run-records.js';
import { parseRedisStoreOptions, type RedisPoolStoreOptions } from './store-options.js';
import { refusalError } from './store-refusals.js';

export {
  DEFAULT_ENDED_LEASE_TTL_MS,
  DEFAULT_EXTENSION_TTL_MS,
  DEFAULT_LEASE_KEY_GRACE_MS,
  DEFAULT_REDIS_AUDIT_LIMIT,
  type RedisPoolStoreOptions,
} from './store-options.js';

/**
 * Pool state in Redis, shared by every coordinator that uses the same prefix. Each change that touches more
 * than one key is one Lua script (src/store/lua), so every method is atomic and — enqueue, dispatch, renew,
 * release, revoke, reclaim included — one round trip. Time comes from the caller's `now`, or with
 * `serverTime: true` from Redis' own clock. Containers, queue and leases are here; the connection, record
 * parsing, notifications and the run's records are its collaborators.
 */
export class RedisPoolStore implements PoolStore {
  readonly kind = 'redis' as const;
  readonly keys: RedisKeys;
  private readonly client: RedisScriptClient;
  private readonly read: RedisRecordReader;
  private readonly records: RedisRunRecords;
  private readonly leaseKeyGraceMs: number;
  /** @internal Life of an ended-lease record, ms (the host registry's default). */
  readonly endedLeaseTtlMs: number;
  private readonly serverTime: boolean;
  private readonly notifications: RedisNotifications;
  private readonly failover: RedisFailoverWatch;
  /** Part of every lease id: keeps ids unique even if the prefix is flushed and the token counter restarts. */
  private readonly leaseNonce = randomBytes(4).toString('hex');

  constructor(options: RedisPoolStoreOptions) {
    const config = parseRedisStoreOptions(options);
    this.keys = new RedisKeys(config.keyPrefix);
    this.leaseKeyGraceMs = config.leaseKeyGraceMs;
    this.endedLeaseTtlMs = config.endedLeaseTtlMs;
    this.serverTime = config.serverTime;
    this.client = new RedisScriptClient(config.redis, this.keys, config.luaDir);
    this.notifications = new RedisNotifications(this.client);
    this.read = new RedisRecordReader(this.keys);
    this.records = new RedisRunRecords(this.client, this.keys, config);
    this.failover = new RedisFailoverWatch(this.client, this.keys, this.read, this.endedLeaseTtlMs);
  }

  // ---- containers ----

  async registerContainers(specs: readonly ContainerSpec[], now: number): Promise<ContainerRecord[]> {
    finite('now', now);
    const records = new Map<string, ContainerRecord>();
    for (const spec of specs) {
      records.set(spec.id, {
        id: spec.id,
        name: spec.name,
        port: spec.port,
        state: 'Starting',
        stateChangedAt: now,
        limits: { memoryMB: finite('memoryMB', spec.memoryMB), cpuPercent: finite('cpuPercent', spec.cpuPercent) },
        consecutiveFailures: 0,
      });
    }
    const ids = [...records.keys()];
    const pairs = [...records.values()].flatMap((r) => [r.id, JSON.stringify(r)]);
    const k = this.keys;
    const reply = await this.client.run(
      'register-containers',
      [k.containers, k.containerOrder, k.leaseExpiry, k.leasePrefix, k.endedPrefix, k.grantPrefix],
      [this.nowArg(now), this.endedLeaseTtlMs, ...pairs],
      { operation: 'registerContainers' },
    );
    // As written by the script (with serverTime, stateChangedAt is Redis' time).
    ids.forEach((id, i) => records.set(id, this.read.container(String(reply[i]), id)));
    return specs.map((s) => copyContainer(records.get(s.id)!));
  }

  async listContainers(): Promise<ContainerRecord[]> {
    const [order, all] = await this.client.multi('listContainers', (m) => m.zrange(this.keys.containerOrder, 0, '-1').hgetall(this.keys.containers));
    const byId = all as Record<string, string>;
    const ids = order as string[];
    // Records without an order entry cannot come from this store; list them last rather than hide them.
    const rest = Object.keys(byId).filter((id) => !ids.includes(id)).sort();
    return [...ids, ...rest].filter((id) => byId[id] !== undefined).map((id) => this.read.container(byId[id]!, id));
  }

  async nextToken(): Promise<number> {
    const raw = await this.client.call('nextToken', () => this.client.redis.get(this.keys.tokenSeq));
    return Number(raw ?? 0) + 1;
  }

  async getContainer(id: string): Promise<ContainerRecord> {
    const raw = await this.client.call('getContainer', () => this.client.redis.hget(this.keys.containers, id));
    if (raw === null) throw refusalError({ kind: 'UNKNOWN_CONTAINER', containerId: id });
    return this.read.container(raw, id);
  }

  /** `fence` is package-internal: the scoped store of a host agent passes its epoch (STALE_EPOCH otherwise). */
  async transition(id: string, from: ContainerState, to: ContainerState, now: number, error?: string, fence?: HostFence): Promise<ContainerRecord> {
    finite('now', now);
    for (const state of [from, to]) {
      if (!isContainerState(state)) throw invalidArgument('state', state, 'a ContainerState');
    }
    const [raw] = await this.client.run(
      'transition',
      [this.keys.containers],
      [id, from, to, this.nowArg(now), error === undefined ? '0' : '1', error ?? '', ...fenceArgs(fence)],
      { operation: 'transition', containerId: id, from, to, ...fenceContext(fence) },
    );
    return this.read.container(String(raw), id);
  }

  async recordUsage(id: string, usage: ResourceUsage, fence?: HostFence): Promise<void> {
    const clean: ResourceUsage = {
      memoryMB: finite('usage.memoryMB', usage.memoryMB),
      cpuPercent: finite('usage.cpuPercent', usage.cpuPercent),
      at: finite('usage.at', usage.at),
    };
    await this.client.run('record-usage', [this.keys.containers], [id, JSON.stringify(clean), ...fenceArgs(fence)], {
      operation: 'recordUsage',
      containerId: id,
      ...fenceContext(fence),
    });
  }

  // ---- queue and leases ----

  async enqueue(request: NewRequest, now: number, ttlMs: number, maxConcurrent: number): Promise<EnqueueResult> {
    finite('now', now);
    positiveFinite('ttlMs', ttlMs);
    finite('maxConcurrent', maxConcurrent);
    const priority = parsePriority(request.priority);
    const requirements: NewRequest['requirements'] = {};
    if (request.requirements.minMemoryMB !== undefined) requirements.minMemoryMB = finite('minMemoryMB', request.requirements.minMemoryMB);
    if (request.requirements.maxCpuPercent !== undefined) requirements.maxCpuPercent = finite('maxCpuPercent', request.requirements.maxCpuPercent);
    // Written field by field so nothing but NewRequest's fields reaches Redis; the script appends "seq".
    const body: NewRequest = {
      requestId: nonEmpty('requestId', request.requestId),
      testRunId: String(request.testRunId),
      priority,
      requestedAt: finite('requestedAt', request.requestedAt),
      deadline: finite('deadline', request.deadline),
      requirements,
      attempt: finite('attempt', request.attempt),
      ...tenantArguments(request),
    };
    const k = this.keys;
    const reply = await this.client.run(
      'enqueue',
      [
        ...[k.queue, k.requests, k.containers, k.containerOrder, k.leaseExpiry, k.requestSeq, k.tokenSeq, k.counters, k.leasePrefix],
        ...[k.grantPrefix, k.grantedRequestPrefix, k.hosts, k.hostLeasePrefix],
      ],
      [
        ...[body.requestId, JSON.stringify(body), PRIORITY_RANK[priority], this.nowArg(now), String(ttlMs), maxConcurrent],
        ...[this.leaseKeyTtl(ttlMs), this.leaseNonce, k.grantsChannel, String(now)],
      ],
      { operation: 'enqueue', requestId: body.requestId, testRunId: body.testRunId, requirements, maxConcurrent },
    );
    const queued = this.read.request(String(reply[0]), body.requestId);
    return { queued, grants: this.read.grants(reply.slice(1)) };
  }

  async dispatch(now: number, ttlMs: number): Promise<Grant[]> {
    finite('now', now);
    positiveFinite('ttlMs', ttlMs);
    const k = this.keys;
    const reply = await this.client.run(
      'dispatch',
      [
        ...[k.queue, k.requests, k.containers, k.containerOrder, k.leaseExpiry, k.tokenSeq, k.counters, k.leasePrefix],
        ...[k.grantPrefix, k.grantedRequestPrefix, k.hosts, k.hostLeasePrefix],
      ],
      [this.nowArg(now), String(ttlMs), this.leaseKeyTtl(ttlMs), this.leaseNonce, k.grantsChannel],
      { operation: 'dispatch' },
    );
    return this.read.grants(reply);
  }

  async grantsFor(requestIds: readonly string[]): Promise<Grant[]> {
    const ids = [...new Set(requestIds.map((id) => nonEmpty('requestId', id)))];
    if (ids.length === 0) return [];
    const k = this.keys;
    const reply = await this.client.run('grants-for', [k.leaseExpiry, k.leasePrefix, k.grantPrefix, k.grantedRequestPrefix], ids, {
      operation: 'grantsFor',
    });
    return this.read.grantsFor(reply);
  }

  async cancel(requestId: string): Promise<CancelResult> {
    const k = this.keys;
    const [status, raw] = await this.client.run('cancel', [k.queue, k.requests, k.leaseExpiry, k.leasePrefix, k.grantPrefix], [requestId], {
      operation: 'cancel',
      requestId,
    });
    if (status === 'cancelled') return { status, request: this.read.request(String(raw), requestId) };
    if (status === 'granted') return { status, lease: this.read.lease(String(raw)) };
    return { status: 'unknown' };
  }

  async renew(leaseId: string, token: number, now: number, ttlMs: number): Promise<Lease> {
    finite('now', now);
    positiveFinite('ttlMs', ttlMs);
    const k = this.keys;
    const [raw] = await this.client.run(
      'renew',
      [k.leaseExpiry, k.leasePrefix, k.endedPrefix, k.grantPrefix, k.grantedRequestPrefix],
      [leaseId, String(token), this.nowArg(now), String(ttlMs), this.leaseKeyTtl(ttlMs)],
      { operation: 'renew', leaseId, token },
    );
    return this.read.lease(String(raw));
  }

  async release(leaseId: string, token: number, now: number): Promise<Lease> {
    finite('now', now);
    const k = this.keys;
    const [raw] = await this.client.run(
      'release',
      [k.leaseExpiry, k.containers, k.counters, k.leasePrefix, k.endedPrefix, k.grantPrefix],
      [leaseId, String(token), this.nowArg(now), this.endedLeaseTtlMs, k.recycleChannel],
      { operation: 'release', leaseId, token },
    );
    return this.read.lease(String(raw));
  }

  /** `fence` is package-internal: the scoped store of a host agent passes its epoch (STALE_EPOCH otherwise). */
  async revoke(containerId: string, now: number, error: string, fence?: HostFence): Promise<Lease | undefined> {
    finite('now', now);
    const k = this.keys;
    const [raw] = await this.client.run(
      'revoke',
      [k.containers, k.leaseExpiry, k.counters, k.leasePrefix, k.endedPrefix, k.grantPrefix],
      [containerId, this.nowArg(now), String(error), this.endedLeaseTtlMs, k.recycleChannel, ...fenceArgs(fence)],
      { operation: 'revoke', containerId, ...fenceContext(fence) },
    );
    return raw ? this.read.lease(String(raw)) : undefined;
  }

  async reclaimExpired(now: number): Promise<Lease[]> {
    finite('now', now);
    const k = this.keys;
    const reply = await this.client.run(
      'reclaim-expired',
      [k.leaseExpiry, k.containers, k.counters, k.leasePrefix, k.endedPrefix, k.grantPrefix],
      [this.nowArg(now), this.endedLeaseTtlMs, k.recycleChannel],
      { operation: 'reclaimExpired' },
    );
    return byGrantOrder(reply.map((raw) => this.read.lease(String(raw))));
  }

  async listLeases(): Promise<Lease[]> {
    const reply = await this.client.run('list-leases', [this.keys.leaseExpiry, this.keys.leasePrefix], [], { operation: 'listLeases' });
    return this.read.leases(reply);
  }

  async getLease(leaseId: string): Promise<Lease> {
    const k = this.keys;
    const [score, raw, endedRaw] = await this.client.multi('getLease', (m) => m.zscore(k.leaseExpiry, leaseId).get(k.lease(leaseId)).get(k.ended(leaseId)));
    if (score !== null && typeof raw === 'string') return this.read.lease(raw, leaseId);
    const operation = 'lookup';
    if (typeof endedRaw === 'string') throw refusalError({ kind: 'LEASE_ENDED', ended: this.read.ended(endedRaw, leaseId), operation });
    throw refusalError({ kind: 'UNKNOWN_LEASE', leaseId, operation });
  }

  async getEndedLease(leaseId: string): Promise<EndedLease | undefined> {
    const raw = await this.client.call('getEndedLease', () => this.client.redis.get(this.keys.ended(leaseId)));
    return raw === null ? undefined : this.read.ended(raw, leaseId);
  }

  async listQueue(): Promise<QueuedRequest[]> {
    const [order, all] = await this.client.multi('listQueue', (m) => m.zrange(this.keys.queue, 0, '-1').hgetall(this.keys.requests));
    const byId = all as Record<string, string>;
    return (order as string[]).map((id) => {
      const raw = byId[id];
      if (raw === undefined) {
        throw corruptStateError({ prefix: this.keys.prefix, key: this.keys.requests, field: id }, 'queued request', 'queued but its record is missing');
      }
      return this.read.request(raw, id);
    });
  }

  // ---- history, extensions, counters, audit ----

  appendExecution(testId: string, durationMs: number, limit: number): Promise<void> {
    return this.records.appendExecution(testId, durationMs, limit);
  }

  getExecutions(testId?: string): Promise<number[]> {
    return this.records.getExecutions(testId);
  }

  claimExtension(testRunId: string, max: number): Promise<number> {
    return this.records.claimExtension(testRunId, max);
  }

  getExtensionCount(testRunId: string): Promise<number> {
    return this.records.getExtensionCount(testRunId);
  }

  incrementCounter(name: CounterName, by = 1): Promise<void> {
    return this.records.incrementCounter(name, by);
  }

  getCounters(): Promise<StoreCounters> {
    return this.records.getCounters();
  }

  appendAudit(events: readonly AuditEvent[]): Promise<void> {
    return this.records.appendAudit(events);
  }

  listAudit(): Promise<AuditEvent[]> {
    return this.records.listAudit();
  }

  // ---- notifications (shared pool): each resolves once subscribed, to its unsubscribe function. At-most-once (a
  // message sent while the connection is down is lost), so each has a poll behind it. One duplicated connection.

  /** Request ids each dispatch pass of any participant grants (another shard's release, at once); poll grantsFor too. */
  subscribeGrants(listener: (requestIds: string[]) => void): Promise<() => Promise<void>> {
    return this.notifications.subscribe(this.keys.grantsChannel, listener);
  }

  /** Container ids gone to Cleaning (release, reclaimExpired) or Unhealthy (revoke), for their agent; poll listContainers too. */
  subscribeRecycle(listener: (containerIds: string[]) => void): Promise<() => Promise<void>> {
    return this.notifications.subscribe(this.keys.recycleChannel, listener);
  }

  /** Lease ids a host's removal (reaped, replaced, leaving) or a failover revoked, for their holders; renewals hear it too. */
  subscribeRevocations(listener: (leaseIds: string[]) => void): Promise<() => Promise<void>> {
    return this.notifications.subscribe(this.keys.revocationsChannel, listener);
  }

  /** The pool epoch on the current master (checked now: a new master bumps it, see redis-failover.ts); 0 until one. */
  poolEpoch(): Promise<number> {
    return this.failover.check();
  }

  /** Hears each Redis failover this store detects: the new epoch and the leases it revoked. Returns the stop function. */
  onFailover(listener: FailoverListener): () => void {
    return this.failover.listen(listener);
  }

  /** @internal The connection and scripts, for the host registry on the same store. */
  get scriptClient(): RedisScriptClient {
    return this.client;
  }

  /** Safe to call twice. Ends subscriptions; closes the connection only if the store opened it (from a URL). */
  async close(): Promise<void> {
    this.failover.stopWatching();
    await this.notifications.close();
    await this.client.close();
  }

  private leaseKeyTtl(ttlMs: number): number {
    return Math.ceil(ttlMs) + this.leaseKeyGraceMs;
  }

  /** The scripts' `now` argument: 'redis' makes them read Redis' clock (common.lua resolveNow). */
  private nowArg(now: number): string {
    return this.serverTime ? 'redis' : String(now);
  }
}

function copyContainer(c: ContainerRecord): ContainerRecord {
  return { ...c, limits: { ...c.limits } };
}
