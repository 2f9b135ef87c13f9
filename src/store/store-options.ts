import type { Redis } from 'ioredis';
import { z } from 'zod';
import { parseOptions } from '../config/parse-options.js';

/** @defaultValue 100000 audit events kept by the memory store (oldest dropped first). */
export const DEFAULT_MEMORY_AUDIT_LIMIT = 100_000;
/** @defaultValue 10000 ended leases the memory store remembers so late callers get a precise error. */
export const DEFAULT_MEMORY_ENDED_LEASE_LIMIT = 10_000;
/** @defaultValue 10000 audit events kept by the Redis store (oldest dropped first). */
export const DEFAULT_REDIS_AUDIT_LIMIT = 10_000;
/**
 * @defaultValue 3600000 ms. A lease key lives ttl + this long: only a safety net so an abandoned pool does not
 * keep keys forever. Expiry is decided by the expiry index and `now`, never by Redis' clock.
 */
export const DEFAULT_LEASE_KEY_GRACE_MS = 3_600_000;
/** @defaultValue 3600000 ms: how long an ended lease is remembered so late callers get a precise error. */
export const DEFAULT_ENDED_LEASE_TTL_MS = 3_600_000;
/** @defaultValue false: scripts use the caller's `now`, not Redis' clock (see `serverTime`). */
export const DEFAULT_SERVER_TIME = false;
/** @defaultValue 86400000 ms: how long a test run's extension count is kept. */
export const DEFAULT_EXTENSION_TTL_MS = 86_400_000;

const positiveInteger = z.number().int().positive();

export const memoryStoreOptionsSchema = z
  .object({
    /** Audit events kept. @defaultValue {@link DEFAULT_MEMORY_AUDIT_LIMIT} */
    auditLimit: positiveInteger.default(DEFAULT_MEMORY_AUDIT_LIMIT),
    /** Ended leases remembered for precise errors. @defaultValue {@link DEFAULT_MEMORY_ENDED_LEASE_LIMIT} */
    endedLeaseLimit: positiveInteger.default(DEFAULT_MEMORY_ENDED_LEASE_LIMIT),
  })
  .strict();
export type MemoryStoreOptions = z.input<typeof memoryStoreOptionsSchema>;
export type MemoryStoreConfig = z.output<typeof memoryStoreOptionsSchema>;

/** An ioredis connection, recognised by shape so that two installed copies of ioredis both pass. */
const redisConnection = z.custom<Redis>(
  (value) => typeof value === 'object' && value !== null && typeof (value as Partial<Redis>).defineCommand === 'function',
  { message: 'must be an ioredis connection or a redis:// URL' },
);

export const redisStoreOptionsSchema = z
  .object({
    /**
     * A connection, which stays the caller's (close() leaves it open), or a `redis://` URL the store connects to
     * and closes. Do not set ioredis' own `keyPrefix` on a shared connection; use `keyPrefix` below. A passed
     * connection may speak RESP2 or RESP3 (ioredis 6's default) but must keep ioredis' default
     * `replyMapping: 'legacy'`; a URL gets a RESP2 connection.
     */
    redis: z.union([z.string().min(1), redisConnection]),
    /**
     * Every key is `<keyPrefix>:...`. Pools sharing one Redis need different prefixes; a restarted coordinator
     * with the same prefix finds the whole pool state. For Redis Cluster use a hash tag, e.g. `{cinnamon-qa}`.
     * (RedisKeys checks its form.)
     */
    keyPrefix: z.string(),
    /** Audit events kept. @defaultValue {@link DEFAULT_REDIS_AUDIT_LIMIT} */
    auditLimit: positiveInteger.default(DEFAULT_REDIS_AUDIT_LIMIT),
    /** Extra life of a lease key beyond its TTL, ms. @defaultValue {@link DEFAULT_LEASE_KEY_GRACE_MS} */
    leaseKeyGraceMs: positiveInteger.default(DEFAULT_LEASE_KEY_GRACE_MS),
    /** Life of an ended-lease record, ms. @defaultValue {@link DEFAULT_ENDED_LEASE_TTL_MS} */
    endedLeaseTtlMs: positiveInteger.default(DEFAULT_ENDED_LEASE_TTL_MS),
    /** Life of a test run's extension counter, ms. @defaultValue {@link DEFAULT_EXTENSION_TTL_MS} */
    extensionTtlMs: positiveInteger.default(DEFAULT_EXTENSION_TTL_MS),
    /**
     * Take `now` from Redis' own clock (TIME inside every script) instead of the caller's: lease grants,
     * expiries, reclaim, deadlines and state times all use Redis' time, so participants on machines whose clocks
     * differ (shards of a shared pool) cannot expire each other's leases early. The caller's `now` is then used
     * only to move an enqueued request's requestedAt and deadline onto Redis' clock (the request keeps its full
     * wait). Lease times returned are Redis' times: compare them with Redis' clock, not the local one.
     * @defaultValue {@link DEFAULT_SERVER_TIME} (the memory store always uses its injected clock)
     */
    serverTime: z.boolean().default(DEFAULT_SERVER_TIME),
    /** Directory of the .lua scripts; defaults to `lua/` next to the store (tests and unusual layouts only). */
    luaDir: z.string().optional(),
  })
  .strict();
export type RedisPoolStoreOptions = z.input<typeof redisStoreOptionsSchema>;
export type RedisStoreConfig = z.output<typeof redisStoreOptionsSchema>;

/** Validates and defaults the memory store's options (INVALID_OPTIONS listing every bad field). */
export function parseMemoryStoreOptions(input: MemoryStoreOptions | undefined): MemoryStoreConfig {
  return parseOptions(memoryStoreOptionsSchema, input, 'memory store options');
}

/** Validates and defaults the Redis store's options (INVALID_OPTIONS listing every bad field). */
export function parseRedisStoreOptions(input: RedisPoolStoreOptions): RedisStoreConfig {
  return parseOptions(redisStoreOptionsSchema, input, 'Redis store options');
}
