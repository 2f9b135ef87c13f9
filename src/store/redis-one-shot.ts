import type { Redis } from 'ioredis';
import { openRedis } from './redis-sentinel-url.js';

/**
 * Runs `work` on a connection of its own, opened for it and closed after: one try, no retries, no offline queue,
 * every wait bounded by `timeoutMs` (a check or a reading must not wait for Redis to come up). A failure is the
 * socket's own error (ECONNREFUSED, ENOTFOUND, auth) when there was one: the awaited call then only says
 * "Connection is closed".
 */
export async function withOneShotRedis<T>(url: string, timeoutMs: number, work: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = openRedis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  let socketError: Error | undefined;
  redis.on('error', (error: Error) => {
    socketError ??= error;
  });
  try {
    await redis.connect();
    return await work(redis);
  } catch (error) {
    throw socketError ?? error;
  } finally {
    redis.disconnect();
  }
}
