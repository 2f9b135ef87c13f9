import { openRedis } from '../store/redis-sentinel-url.js';
import type { RedisPing } from './doctor-checks.js';

/** @defaultValue 2000 ms: a Redis that takes longer to accept a connection will not serve a run well either. */
export const DEFAULT_REDIS_PING_TIMEOUT_MS = 2_000;

/** One connection, one PING, no retries: the doctor reports, it does not wait for Redis to come up. */
export async function pingRedis(url: string, timeoutMs = DEFAULT_REDIS_PING_TIMEOUT_MS): Promise<RedisPing> {
  const redis = openRedis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // The socket error (ECONNREFUSED, ENOTFOUND, auth) arrives as an event; the awaited call then only says
  // "Connection is closed", so the event's error is the one reported.
  let socketError: NodeJS.ErrnoException | undefined;
  redis.on('error', (error: NodeJS.ErrnoException) => {
    socketError ??= error;
  });
  try {
    await redis.connect();
    const pong = await redis.ping();
    if (pong !== 'PONG') return { ok: false, message: `unexpected PING reply ${JSON.stringify(pong)}` };
    const info = await redis.info('server').catch(() => '');
    const version = /redis_version:([^\r\n]+)/.exec(info)?.[1];
    return version ? { ok: true, version } : { ok: true };
  } catch (error) {
    const e = socketError ?? (error as NodeJS.ErrnoException);
    return { ok: false, message: e.code ? `${e.code}: ${e.message}` : e.message };
  } finally {
    redis.disconnect();
  }
}
