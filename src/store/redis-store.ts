import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { z } from 'zod';
import type { ContainerSpec } from '../config/pool-config.js';
import { isContainerState, type ContainerState } from '../domain/container-state.js';
import { parsePriority, PRIORITY_RANK } from '../domain/priority.js';
import { PoolError } from '../errors/pool-error.js';
import { endedLeaseError, unknownContainerError, unknownLeaseError } from './lease-rules.js';
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
import {
  auditEventSchema,
  containerRecordSchema,
  corruptStateError,
  countersSchema,
  endedLeaseSchema,
  isCounterName,
  leaseSchema,
  parseStoredJson,
  parseStoredValue,
  queuedRequestSchema,
  storedIntegerSchema,
  storedNumberSchema,
  type RecordLocation,
} from './record-schemas.js';
import { redisFailure, scriptError, type ScriptCallContext } from './redis-errors.js';
import { RedisKeys } from './redis-keys.js';
import { defineScripts, loadScripts, type ScriptName, type ScriptRunner } from './redis-scripts.js';
import { redactUrl } from './redact-url.js';

/** @defaultValue 10000 audit events kept (oldest dropped first). */
export const DEFAULT_REDIS_AUDIT_LIMIT = 10_000;
/**
 * @defaultValue 3600000 ms. A lease key lives ttl + this long: only a safety net so an abandoned pool does not
 * keep keys forever. Expiry is decided by the expiry index and `now`, never by Redis' clock.
 */
export const DEFAULT_LEASE_KEY_GRACE_MS = 3_600_000;
/** @defaultValue 3600000 ms: how long an ended lease is remembered so late callers get a precise error. */
export const DEFAULT_ENDED_LEASE_TTL_MS = 3_600_000;
/** @defaultValue 86400000 ms: how long a test run's extension count is kept. */
export const DEFAULT_EXTENSION_TTL_MS = 86_400_000;

export interface RedisPoolStoreOptions {
  /**
   * A connection, which stays the caller's (close() leaves it open), or a `redis://` URL the store connects to
   * and closes. Do not set ioredis' own `keyPrefix` on a shared connection; use `keyPrefix` below. A passed
   * connection may speak RESP2 or RESP3 (ioredis 6's default) but must keep ioredis' default
   * `replyMapping: 'legacy'`; a URL gets a RESP2 connection.
   */
  redis: Redis | string;
  /**
   * Every key is `<keyPrefix>:...`. Pools sharing one Redis need different prefixes; a restarted coordinator
   * with the same prefix finds the whole pool state. For Redis Cluster use a hash tag, e.g. `{cinnamon-qa}`.
   */
  keyPrefix: string;
  /** Audit events kept. @defaultValue {@link DEFAULT_REDIS_AUDIT_LIMIT} */
  auditLimit?: number;
  /** Extra life of a lease key beyond its TTL, ms. @defaultValue {@link DEFAULT_LEASE_KEY_GRACE_MS} */
  leaseKeyGraceMs?: number;
  /** Life of an ended-lease record, ms. @defaultValue {@link DEFAULT_ENDED_LEASE_TTL_MS} */
  endedLeaseTtlMs?: number;
  /** Life of a test run's extension counter, ms. @defaultValue {@link DEFAULT_EXTENSION_TTL_MS} */
  extensionTtlMs?: number;
  /** Directory of the .lua scripts; defaults to `lua/` next to this module (tests and unusual layouts only). */
  luaDir?: string;
}

type Reply = Array<string | number | null>;

/**
 * Pool state in Redis, shared by every coordinator that uses the same prefix. Each change that touches more
 * than one key is one Lua script (src/store/lua), so every method is atomic and — enqueue, dispatch, renew,
 * release, revoke, reclaim included — one round trip. Time always comes from the caller's `now`.
 */
export class RedisPoolStore implements PoolStore {
  readonly kind = 'redis' as const;
  readonly keys: RedisKeys;
  private readonly redis: Redis;
  private readonly ownsConnection: boolean;
  private readonly scripts: Map<ScriptName, ScriptRunner>;
  private readonly auditLimit: number;
  private readonly leaseKeyGraceMs: number;
  private readonly endedLeaseTtlMs: number;
  private readonly extensionTtlMs: number;
  /** Part of every lease id: keeps ids unique even if the prefix is flushed and the token counter restarts. */
  private readonly leaseNonce = randomBytes(4).toString('hex');
  /** Where Redis is, for messages (no password). */
  private readonly where: string;
  private closing: Promise<void> | undefined;

  constructor(options: RedisPoolStoreOptions) {
    this.keys = new RedisKeys(options.keyPrefix);
    this.auditLimit = positiveInteger('auditLimit', options.auditLimit ?? DEFAULT_REDIS_AUDIT_LIMIT);
    this.leaseKeyGraceMs = positiveInteger('leaseKeyGraceMs', options.leaseKeyGraceMs ?? DEFAULT_LEASE_KEY_GRACE_MS);
    this.endedLeaseTtlMs = positiveInteger('endedLeaseTtlMs', options.endedLeaseTtlMs ?? DEFAULT_ENDED_LEASE_TTL_MS);
    this.extensionTtlMs = positiveInteger('extensionTtlMs', options.extensionTtlMs ?? DEFAULT_EXTENSION_TTL_MS);
    const loaded = loadScripts(options.luaDir);
    if (typeof options.redis === 'string') {
      this.where = redactUrl(options.redis);
      // Fail a call after a couple of reconnect attempts instead of queueing it for minutes: the coordinator
      // turns STORE_UNAVAILABLE into a clear failure.
      // protocol 2: the Lua scripts and the reply parsing here are written to RESP2's conversions (Lua false → nil,
      // true → 1, tables → flat arrays, scores as strings). ioredis 6 defaults to RESP3 (HELLO 3) and keeps those
      // shapes only through its `replyMapping: 'legacy'` default; RESP2 keeps them by protocol, on every Redis
      // version and proxy, without the HELLO round trip.
      this.redis = new Redis(options.redis, { protocol: 2, maxRetriesPerRequest: 2, connectTimeout: 5_000 });
      // Without a listener ioredis prints every reconnect error; failures reach callers as STORE_UNAVAILABLE.
      this.redis.on('error', () => {});
      this.ownsConnection = true;
    } else {
      this.redis = options.redis;
      this.where = `${options.redis.options.host ?? 'localhost'}:${options.redis.options.port ?? 6379}`;
      this.ownsConnection = false;
    }
    this.scripts = defineScripts(this.redis, loaded);
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
    await this.run(
      'register-containers',
      [k.containers, k.containerOrder, k.leaseExpiry, k.leasePrefix, k.endedPrefix, k.grantPrefix],
      [String(now), this.endedLeaseTtlMs, ...pairs],
      { operation: 'registerContainers' },
    );
    return specs.map((s) => copyContainer(records.get(s.id)!));
  }

  async listContainers(): Promise<ContainerRecord[]> {
    const [order, all] = await this.multi('listContainers', (m) => m.zrange(this.keys.containerOrder, 0, '-1').hgetall(this.keys.containers));
    const byId = all as Record<string, string>;
    const ids = order as string[];
    // Records without an order entry cannot come from this store; list them last rather than hide them.
    const rest = Object.keys(byId).filter((id) => !ids.includes(id)).sort();
    return [...ids, ...rest].filter((id) => byId[id] !== undefined).map((id) => this.parseContainer(byId[id]!, id));
  }

  async getContainer(id: string): Promise<ContainerRecord> {
    const raw = await this.call('getContainer', () => this.redis.hget(this.keys.containers, id));
    if (raw === null) throw unknownContainerError(id);
    return this.parseContainer(raw, id);
  }

  async transition(id: string, from: ContainerState, to: ContainerState, now: number, error?: string): Promise<ContainerRecord> {
    finite('now', now);
    for (const state of [from, to]) {
      if (!isContainerState(state)) throw invalidArgument('state', state, 'a ContainerState');
    }
    const [raw] = await this.run(
      'transition',
      [this.keys.containers],
      [id, from, to, String(now), error === undefined ? '0' : '1', error ?? ''],
      { operation: 'transition', containerId: id, from, to },
    );
    return this.parseContainer(String(raw), id);
  }

  async recordUsage(id: string, usage: ResourceUsage): Promise<void> {
    const clean: ResourceUsage = {
      memoryMB: finite('usage.memoryMB', usage.memoryMB),
      cpuPercent: finite('usage.cpuPercent', usage.cpuPercent),
      at: finite('usage.at', usage.at),
    };
    await this.run('record-usage', [this.keys.containers], [id, JSON.stringify(clean)], { operation: 'recordUsage', containerId: id });
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
    const reply = await this.run(
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
    const queued = this.parseRequest(String(reply[0]), body.requestId);
    return { queued, grants: this.parseGrants(reply.slice(1)) };
  }

  async dispatch(now: number, ttlMs: number): Promise<Grant[]> {
    finite('now', now);
    positiveFinite('ttlMs', ttlMs);
    const k = this.keys;
    const reply = await this.run(
      'dispatch',
      [k.queue, k.requests, k.containers, k.containerOrder, k.leaseExpiry, k.tokenSeq, k.counters, k.leasePrefix, k.grantPrefix],
      [String(now), String(ttlMs), this.leaseKeyTtl(ttlMs), this.leaseNonce],
      { operation: 'dispatch' },
    );
    return this.parseGrants(reply);
  }

  async cancel(requestId: string): Promise<CancelResult> {
    const k = this.keys;
    const [status, raw] = await this.run('cancel', [k.queue, k.requests, k.leaseExpiry, k.leasePrefix, k.grantPrefix], [requestId], {
      operation: 'cancel',
      requestId,
    });
    if (status === 'cancelled') return { status, request: this.parseRequest(String(raw), requestId) };
    if (status === 'granted') return { status, lease: this.parseLease(String(raw)) };
    return { status: 'unknown' };
  }

  async renew(leaseId: string, token: number, now: number, ttlMs: number): Promise<Lease> {
    finite('now', now);
    positiveFinite('ttlMs', ttlMs);
    const k = this.keys;
    const [raw] = await this.run(
      'renew',
      [k.leaseExpiry, k.leasePrefix, k.endedPrefix, k.grantPrefix],
      [leaseId, String(token), String(now), String(ttlMs), this.leaseKeyTtl(ttlMs)],
      { operation: 'renew', leaseId, token },
    );
    return this.parseLease(String(raw));
  }

  async release(leaseId: string, token: number, now: number): Promise<Lease> {
    finite('now', now);
    const k = this.keys;
    const [raw] = await this.run(
      'release',
      [k.leaseExpiry, k.containers, k.counters, k.leasePrefix, k.endedPrefix, k.grantPrefix],
      [leaseId, String(token), String(now), this.endedLeaseTtlMs],
      { operation: 'release', leaseId, token },
    );
    return this.parseLease(String(raw));
  }

  async revoke(containerId: string, now: number, error: string): Promise<Lease | undefined> {
    finite('now', now);
    const k = this.keys;
    const [raw] = await this.run(
      'revoke',
      [k.containers, k.leaseExpiry, k.counters, k.leasePrefix, k.endedPrefix, k.grantPrefix],
      [containerId, String(now), String(error), this.endedLeaseTtlMs],
      { operation: 'revoke', containerId },
    );
    return raw ? this.parseLease(String(raw)) : undefined;
  }

  async reclaimExpired(now: number): Promise<Lease[]> {
    finite('now', now);
    const k = this.keys;
    const reply = await this.run(
      'reclaim-expired',
      [k.leaseExpiry, k.containers, k.counters, k.leasePrefix, k.endedPrefix, k.grantPrefix],
      [String(now), this.endedLeaseTtlMs],
      { operation: 'reclaimExpired' },
    );
    return byGrantOrder(reply.map((raw) => this.parseLease(String(raw))));
  }

  async listLeases(): Promise<Lease[]> {
    const reply = await this.run('list-leases', [this.keys.leaseExpiry, this.keys.leasePrefix], [], { operation: 'listLeases' });
    const leases: Lease[] = [];
    for (let i = 0; i < reply.length; i += 2) {
      const raw = reply[i + 1];
      // null: the key's safety-net TTL fired; reclaimExpired will end it, there is no record to show.
      if (raw !== null && raw !== undefined) leases.push(this.parseLease(String(raw), String(reply[i])));
    }
    return byGrantOrder(leases);
  }

  async getLease(leaseId: string): Promise<Lease> {
    const k = this.keys;
    const [score, raw, endedRaw] = await this.multi('getLease', (m) => m.zscore(k.leaseExpiry, leaseId).get(k.lease(leaseId)).get(k.ended(leaseId)));
    if (score !== null && typeof raw === 'string') return this.parseLease(raw, leaseId);
    if (typeof endedRaw === 'string') throw endedLeaseError(this.parseEnded(endedRaw, leaseId), 'lookup');
    throw unknownLeaseError(leaseId, 'lookup');
  }

  async getEndedLease(leaseId: string): Promise<EndedLease | undefined> {
    const raw = await this.call('getEndedLease', () => this.redis.get(this.keys.ended(leaseId)));
    return raw === null ? undefined : this.parseEnded(raw, leaseId);
  }

  async listQueue(): Promise<QueuedRequest[]> {
    const [order, all] = await this.multi('listQueue', (m) => m.zrange(this.keys.queue, 0, '-1').hgetall(this.keys.requests));
    const byId = all as Record<string, string>;
    return (order as string[]).map((id) => {
      const raw = byId[id];
      if (raw === undefined) {
        throw corruptStateError({ prefix: this.keys.prefix, key: this.keys.requests, field: id }, 'queued request', 'queued but its record is missing');
      }
      return this.parseRequest(raw, id);
    });
  }

  // ---- history, extensions, counters, audit ----

  async appendExecution(testId: string, durationMs: number, limit: number): Promise<void> {
    finite('durationMs', durationMs);
    positiveInteger('limit', limit);
    await this.run('append-execution', [this.keys.history(testId), this.keys.historyAll], [String(durationMs), limit], {
      operation: 'appendExecution',
    });
  }

  async getExecutions(testId?: string): Promise<number[]> {
    const key = this.keys.history(testId);
    const raw = await this.call('getExecutions', () => this.redis.lrange(key, 0, -1));
    return raw.map((value, i) => parseStoredValue(storedNumberSchema, value, 'duration', { prefix: this.keys.prefix, key, field: `index ${i}` }));
  }

  async claimExtension(testRunId: string, max: number): Promise<number> {
    finite('max', max);
    const [count] = await this.run('claim-extension', [this.keys.extensions(testRunId)], [max, this.extensionTtlMs], {
      operation: 'claimExtension',
      testRunId,
    });
    return Number(count);
  }

  async getExtensionCount(testRunId: string): Promise<number> {
    const key = this.keys.extensions(testRunId);
    const raw = await this.call('getExtensionCount', () => this.redis.get(key));
    return raw === null ? 0 : parseStoredValue(storedIntegerSchema, raw, 'extension count', { prefix: this.keys.prefix, key });
  }

  async incrementCounter(name: CounterName, by = 1): Promise<void> {
    if (!isCounterName(name)) throw invalidArgument('counter name', name, 'a StoreCounters field');
    if (!Number.isSafeInteger(by)) throw invalidArgument('by', by, 'an integer');
    await this.call('incrementCounter', () => this.redis.hincrby(this.keys.counters, name, by));
  }

  async getCounters(): Promise<StoreCounters> {
    const raw = await this.call('getCounters', () => this.redis.hgetall(this.keys.counters));
    return parseStoredValue(countersSchema, raw, 'counters hash', { prefix: this.keys.prefix, key: this.keys.counters });
  }

  async appendAudit(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    const json = events.map((e) => JSON.stringify(e));
    await this.run('append-audit', [this.keys.audit], [this.auditLimit, ...json], { operation: 'appendAudit' });
  }

  async listAudit(): Promise<AuditEvent[]> {
    const key = this.keys.audit;
    const raw = await this.call('listAudit', () => this.redis.lrange(key, 0, -1));
    return raw.map((value, i) => parseStoredJson(auditEventSchema, value, 'audit event', { prefix: this.keys.prefix, key, field: `index ${i}` }));
  }

  /** Safe to call twice. Closes the connection only if the store opened it (from a URL). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.ownsConnection) return;
      try {
        await this.redis.quit();
      } catch {
        // Already gone: nothing left to close.
        this.redis.disconnect();
      }
    })();
    return this.closing;
  }

  // ---- internals ----

  /** Runs one script; a negative first element is a refusal mapped to its PoolError. Returns the rest. */
  private async run(name: ScriptName, keys: readonly string[], args: readonly (string | number)[], ctx: ScriptCallContext): Promise<Reply> {
    const runner = this.scripts.get(name)!;
    const reply = await this.call(ctx.operation, () => runner(keys, args));
    if (!Array.isArray(reply) || typeof reply[0] !== 'number') {
      throw new PoolError('CORRUPT_STATE', `Script ${name} answered ${JSON.stringify(reply)}: the Lua scripts and this package do not match.`, {
        script: name,
      });
    }
    const [code, ...rest] = reply as [number, ...Reply];
    if (code < 0) throw scriptError(this.keys, code, String(rest[0] ?? ''), String(rest[1] ?? ''), ctx);
    return rest;
  }

  /** One command (or script) with Redis failures mapped to PoolErrors, refused after close(). */
  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.closing) {
      throw new PoolError('STORE_UNAVAILABLE', `The Redis pool store (prefix '${this.keys.prefix}') was closed; ${operation} refused.`, {
        operation,
      });
    }
    try {
      return await fn();
    } catch (error) {
      throw redisFailure(error, this.keys, operation, this.where);
    }
  }

  /** Several reads in one MULTI: one round trip and one consistent view. */
  private async multi(operation: string, build: (m: ReturnType<Redis['multi']>) => ReturnType<Redis['multi']>): Promise<unknown[]> {
    const results = await this.call(operation, () => build(this.redis.multi()).exec());
    if (!results) throw redisFailure(new Error('transaction aborted'), this.keys, operation, this.where);
    return results.map(([error, value]) => {
      if (error) throw redisFailure(error, this.keys, operation, this.where);
      return value;
    });
  }

  private leaseKeyTtl(ttlMs: number): number {
    return Math.ceil(ttlMs) + this.leaseKeyGraceMs;
  }

  private parseGrants(flat: Reply): Grant[] {
    const grants: Grant[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const lease = this.parseLease(String(flat[i + 1]));
      grants.push({ request: this.parseRequest(String(flat[i]), lease.requestId), lease });
    }
    return grants;
  }

  private parseContainer(raw: string, id: string): ContainerRecord {
    return this.parse(containerRecordSchema, raw, 'container record', { key: this.keys.containers, field: id });
  }

  private parseRequest(raw: string, requestId: string): QueuedRequest {
    return this.parse(queuedRequestSchema, raw, 'queued request', { key: this.keys.requests, field: requestId });
  }

  private parseLease(raw: string, leaseId = leaseIdOf(raw)): Lease {
    return this.parse(leaseSchema, raw, 'lease', { key: this.keys.lease(leaseId) });
  }

  private parseEnded(raw: string, leaseId: string): EndedLease {
    return this.parse(endedLeaseSchema, raw, 'ended lease', { key: this.keys.ended(leaseId) });
  }

  private parse<S extends z.ZodType>(schema: S, raw: string, what: string, at: Omit<RecordLocation, 'prefix'>): z.output<S> {
    return parseStoredJson(schema, raw, what, { prefix: this.keys.prefix, ...at });
  }
}

/** Active leases in grant order (token order), as the memory store lists them. */
function byGrantOrder(leases: Lease[]): Lease[] {
  return leases.sort((a, b) => a.token - b.token);
}

/** Best-effort lease id from a record, only to name its key in a CORRUPT_STATE message. */
function leaseIdOf(raw: string): string {
  try {
    const value: unknown = JSON.parse(raw);
    if (value && typeof value === 'object' && typeof (value as { leaseId?: unknown }).leaseId === 'string') return (value as { leaseId: string }).leaseId;
  } catch {
    // unreadable: the parse that follows reports it
  }
  return '<unknown>';
}

function copyContainer(c: ContainerRecord): ContainerRecord {
  return { ...c, limits: { ...c.limits } };
}


function invalidArgument(name: string, value: unknown, expected: string): PoolError {
  return new PoolError('INVALID_ARGUMENT', `${name} must be ${expected}, got ${JSON.stringify(value) ?? String(value)}.`, { name, value });
}

/** Numbers go into Lua and JSON: NaN and Infinity would not survive the trip (JSON writes them as null). */
function finite(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidArgument(name, value, 'a finite number');
  return value;
}

function positiveFinite(name: string, value: number): number {
  if (finite(name, value) <= 0) throw invalidArgument(name, value, 'a positive number');
  return value;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw invalidArgument(name, value, 'a positive integer');
  return value;
}

function nonEmpty(name: string, value: string): string {
  if (typeof value !== 'string' || value.length === 0) throw invalidArgument(name, value, 'a non-empty string');
  return value;
}
