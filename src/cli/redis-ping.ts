import { withOneShotRedis } from '../store/redis-one-shot.js';
import type { RedisPing } from './doctor-checks.js';

/** @defaultValue 2000 ms: a Redis that takes longer to accept a connection will not serve a run well either. */
export const DEFAULT_REDIS_PING_TIMEOUT_MS = 2_000;

/** One connection, one PING, no retries: the doctor reports, it does not wait for Redis to come up. */
export async function pingRedis(url: string, timeoutMs = DEFAULT_REDIS_PING_TIMEOUT_MS): Promise<RedisPing> {
  try {
    return await withOneShotRedis(url, timeoutMs, async (redis): Promise<RedisPing> => {
      const pong = await redis.ping();
      if (pong !== 'PONG') return { ok: false, message: `unexpected PING reply ${JSON.stringify(pong)}` };
      const info = await redis.info('server').catch(() => '');
      const version = /redis_version:([^\r\n]+)/.exec(info)?.[1];
      return version ? { ok: true, version } : { ok: true };
    });
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return { ok: false, message: e.code ? `${e.code}: ${e.message}` : e.message };
  }
}
