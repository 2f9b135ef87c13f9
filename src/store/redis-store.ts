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
import { finite, invalidArgument, nonEmpty, positiveFinite } from './redis-arguments.js';
import { RedisScriptClient } from './redis-connection.js';
import { RedisKeys } from './redis-keys.js';
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
 * release, revoke, reclaim included — one round trip. Time always comes from the caller's `now`. Containers,
 * queue and leases are here; the connection, record parsing and the run's records are its collaborators.
 */
export class RedisPoolStore implements PoolStore {
  readonly kind = 'redis' as const;
  readonly keys: RedisKeys;
  private readonly client: RedisScriptClient;
  private readonly read: RedisRecordReader;
  private readonly records: RedisRunRecords;
  private readonly leaseKeyGraceMs: number;
  private readonly endedLeaseTtlMs: number;
  /** Part of every lease id: keeps ids unique even if the prefix is flushed and the token counter restarts. */
  private readonly leaseNonce = randomBytes(4).toString('hex');

  constructor(options: RedisPoolStoreOptions) {
    const config = parseRedisStoreOptions(options);
    this.keys = new RedisKeys(config.keyPrefix);
    this.leaseKeyGraceMs = config.leaseKeyGraceMs;
    this.endedLeaseTtlMs = config.endedLeaseTtlMs;
    this.client = new RedisScriptClient(config.redis, this.keys, config.luaDir);
    this.read = new RedisRecordReader(this.keys);
    this.records = new RedisRunRecords(this.client, this.keys, config);
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
    const pairs = [...records.values()].flatMap((r) => [r.id, JSON.stringify(r)]);
    const k = this.keys;
    await this.client.run(
      'register-containers',
      [k.containers, k.containerOrder, k.leaseExpiry, k.leasePrefix, k.endedPrefix, k.grantPrefix],
      [String(now), this.endedLeaseTtlMs, ...pairs],
      { operation: 'registerContainers' },
    );
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

  async transition(id: string, from: ContainerState, to: ContainerState, now: number, error?: string): Promise<ContainerRecord> {
    finite('now', now);
    for (const state of [from, to]) {
      if (!isContainerState(state)) throw invalidArgument('state', state, 'a ContainerState');
    }
    const [raw] = await this.client.run(
      'transition',
      [this.keys.containers],
      [id, from, to, String(now), error === undefined ? '0' : '1', error ?? ''],
      { operation: 'transition', containerId: id, from, to },
    );
    return this.read.container(String(raw), id);
  }

  async recordUsage(id: string, usage: ResourceUsage): Promise<void> {
    const clean: ResourceUsage = {
      memoryMB: finite('usage.memoryMB', usage.memoryMB),
      cpuPercent: finite('usage.cpuPercent', usage.cpuPercent),
      at: finite('usage.at', usage.at),
    };
    await this.client.run('record-usage', [this.keys.containers], [id, JSON.stringify(clean)], { operation: 'recordUsage', containerId: id });
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
    };
    const k = this.keys;
    const reply = await this.client.run(
      'enqueue',
      [k.queue, k.requests, k.containers, k.containerOrder, k.leaseExpiry, k.requestSeq, k.tokenSeq, k.counters, k.leasePrefix, k.grantPrefix],
      [body.requestId, JSON.stringify(body), PRIORITY_RANK[priority], String(now), String(ttlMs), maxConcurrent, this.leaseKeyTtl(ttlMs), this.leaseNonce],
      {
        operation: 'enqueue',
        requestId: body.requestId,
        testRunId: body.testRunId,
        requirements,
        maxConcurrent,
      },
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
      [k.queue, k.requests, k.containers, k.containerOrder, k.leaseExpiry, k.tokenSeq, k.counters, k.leasePrefix, k.grantPrefix],
      [String(now), String(ttlMs), this.leaseKeyTtl(ttlMs), this.leaseNonce],
      { operation: 'dispatch' },
    );
    return this.read.grants(reply);
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
      [k.leaseExpiry, k.leasePrefix, k.endedPrefix, k.grantPrefix],
      [leaseId, String(token), String(now), String(ttlMs), this.leaseKeyTtl(ttlMs)],
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
      [leaseId, String(token), String(now), this.endedLeaseTtlMs],
      { operation: 'release', leaseId, token },
    );
    return this.read.lease(String(raw));
  }

  async revoke(containerId: string, now: number, error: string): Promise<Lease | undefined> {
    finite('now', now);
    const k = this.keys;
    const [raw] = await this.client.run(
      'revoke',
      [k.containers, k.leaseExpiry, k.counters, k.leasePrefix, k.endedPrefix, k.grantPrefix],
      [containerId, String(now), String(error), this.endedLeaseTtlMs],
      { operation: 'revoke', containerId },
    );
    return raw ? this.read.lease(String(raw)) : undefined;
  }

  async reclaimExpired(now: number): Promise<Lease[]> {
    finite('now', now);
    const k = this.keys;
    const reply = await this.client.run(
      'reclaim-expired',
      [k.leaseExpiry, k.containers, k.counters, k.leasePrefix, k.endedPrefix, k.grantPrefix],
      [String(now), this.endedLeaseTtlMs],
      { operation: 'reclaimExpired' },
    );
    return byGrantOrder(reply.map((raw) => this.read.lease(String(raw))));
  }

  async listLeases(): Promise<Lease[]> {
    const reply = await this.client.run('list-leases', [this.keys.leaseExpiry, this.keys.leasePrefix], [], { operation: 'listLeases' });
    const leases: Lease[] = [];
    for (let i = 0; i < reply.length; i += 2) {
      const raw = reply[i + 1];
      // null: the key's safety-net TTL fired; reclaimExpired will end it, there is no record to show.
      if (raw !== null && raw !== undefined) leases.push(this.read.lease(String(raw), String(reply[i])));
    }
    return byGrantOrder(leases);
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

  /** Safe to call twice. Closes the connection only if the store opened it (from a URL). */
  close(): Promise<void> {
    return this.client.close();
  }

  private leaseKeyTtl(ttlMs: number): number {
    return Math.ceil(ttlMs) + this.leaseKeyGraceMs;
  }
}

function copyContainer(c: ContainerRecord): ContainerRecord {
  return { ...c, limits: { ...c.limits } };
}
