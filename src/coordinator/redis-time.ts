import { openRedis } from '../store/redis-sentinel-url.js';

/** @defaultValue 5000 ms: how long one reading of Redis' clock may take before the shared start fails. */
export const REDIS_TIME_TIMEOUT_MS = 5_000;

/**
 * One reading of Redis' clock (TIME), epoch ms, on a short-lived connection of its own: the store offers no
 * reading, and a shard's OffsetClock needs one at start.
 */
export async function readRedisTime(url: string, timeoutMs = REDIS_TIME_TIMEOUT_MS): Promise<number> {
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
    const [seconds, micros] = await redis.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  } catch (error) {
    throw socketError ?? error;
  } finally {
    redis.disconnect();
  }
}
