import { describe, expect, it } from 'vitest';
import { isPoolError } from '../errors/pool-error.js';
import { MemoryPoolStore } from './memory-store.js';
import { RedisPoolStore } from './redis-store.js';
import {
  DEFAULT_ENDED_LEASE_TTL_MS,
  DEFAULT_EXTENSION_TTL_MS,
  DEFAULT_LEASE_KEY_GRACE_MS,
  DEFAULT_MEMORY_AUDIT_LIMIT,
  DEFAULT_MEMORY_ENDED_LEASE_LIMIT,
  DEFAULT_REDIS_AUDIT_LIMIT,
  DEFAULT_SERVER_TIME,
  parseMemoryStoreOptions,
  parseRedisStoreOptions,
} from './store-options.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('store options', () => {
  it('fill every default from its named constant', () => {
    expect(parseMemoryStoreOptions(undefined)).toEqual({ auditLimit: DEFAULT_MEMORY_AUDIT_LIMIT, endedLeaseLimit: DEFAULT_MEMORY_ENDED_LEASE_LIMIT });
    expect(parseRedisStoreOptions({ redis: 'redis://127.0.0.1:6379', keyPrefix: 'p' })).toEqual({
      redis: 'redis://127.0.0.1:6379',
      keyPrefix: 'p',
      auditLimit: DEFAULT_REDIS_AUDIT_LIMIT,
      leaseKeyGraceMs: DEFAULT_LEASE_KEY_GRACE_MS,
      endedLeaseTtlMs: DEFAULT_ENDED_LEASE_TTL_MS,
      extensionTtlMs: DEFAULT_EXTENSION_TTL_MS,
      serverTime: DEFAULT_SERVER_TIME,
    });
  });

  it('refuse a bad or unknown option with INVALID_OPTIONS before anything connects', () => {
    const memory = thrown(() => new MemoryPoolStore({ auditLimit: 0 }));
    expect(isPoolError(memory, 'INVALID_OPTIONS')).toBe(true);
    expect((memory as Error).message).toContain('auditLimit');
    const redis = thrown(() => new RedisPoolStore({ redis: 'redis://127.0.0.1:1', keyPrefix: 'p', endedLeaseTtlMs: 1.5 }));
    expect(isPoolError(redis, 'INVALID_OPTIONS')).toBe(true);
    expect((redis as Error).message).toContain('endedLeaseTtlMs');
    const unknown = thrown(() => new RedisPoolStore({ redis: 'redis://127.0.0.1:1', keyPrefix: 'p', ttl: 5 } as never));
    expect((unknown as Error).message).toContain("unknown option 'ttl'");
    const noConnection = thrown(() => new RedisPoolStore({ redis: 42 as never, keyPrefix: 'p' }));
    expect(isPoolError(noConnection, 'INVALID_OPTIONS')).toBe(true);
  });
});
