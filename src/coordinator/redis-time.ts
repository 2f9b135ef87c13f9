import { withOneShotRedis } from '../store/redis-one-shot.js';

/** @defaultValue 5000 ms: how long one reading of Redis' clock may take before the shared start fails. */
export const REDIS_TIME_TIMEOUT_MS = 5_000;

/**
 * One reading of Redis' clock (TIME), epoch ms, on a short-lived connection of its own: the store offers no
 * reading, and a shard's OffsetClock needs one at start.
 */
export function readRedisTime(url: string, timeoutMs = REDIS_TIME_TIMEOUT_MS): Promise<number> {
  return withOneShotRedis(url, timeoutMs, async (redis) => {
    const [seconds, micros] = await redis.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  });
}
