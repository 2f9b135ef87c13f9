import type { Redis } from 'ioredis';
import { PoolError } from '../errors/pool-error.js';
import { redisFailure, scriptError, type ScriptCallContext } from './redis-errors.js';
import type { RedisKeys } from './redis-keys.js';
import { defineScripts, loadScripts, type ScriptName, type ScriptRunner } from './redis-scripts.js';
import { redactUrl } from './redact-url.js';
import { openRedis } from './redis-sentinel-url.js';

export type Reply = Array<string | number | null>;

/**
 * The Redis store's connection: opens it from a URL (or borrows the caller's), runs the Lua scripts and plain
 * commands with every failure mapped to a PoolError, and refuses calls once closed.
 */
export class RedisScriptClient {
  readonly redis: Redis;
  private readonly ownsConnection: boolean;
  private readonly scripts: Map<ScriptName, ScriptRunner>;
  /** Where Redis is, for messages (no password). */
  private readonly where: string;
  private closing: Promise<void> | undefined;
  /** Calls wait for this (the failover watch's pool-epoch check after each connection), except the check itself. */
  private held: Promise<unknown> | undefined;

  constructor(
    redis: Redis | string,
    private readonly keys: RedisKeys,
    luaDir: string | undefined,
  ) {
    const loaded = loadScripts(luaDir);
    if (typeof redis === 'string') {
      this.where = redactUrl(redis);
      // Fail a call after a couple of reconnect attempts instead of queueing it for minutes: the coordinator
      // turns STORE_UNAVAILABLE into a clear failure.
      // protocol 2: the Lua scripts and the reply parsing here are written to RESP2's conversions (Lua false → nil,
      // true → 1, tables → flat arrays, scores as strings). ioredis 6 defaults to RESP3 (HELLO 3) and keeps those
      // shapes only through its `replyMapping: 'legacy'` default; RESP2 keeps them by protocol, on every Redis
      // version and proxy, without the HELLO round trip.
      // A redis-sentinel:// URL connects through the sentinels and follows a failover (redis-failover.ts).
      this.redis = openRedis(redis, { protocol: 2, maxRetriesPerRequest: 2, connectTimeout: 5_000 });
      // Without a listener ioredis prints every reconnect error; failures reach callers as STORE_UNAVAILABLE.
      this.redis.on('error', () => {});
      this.ownsConnection = true;
    } else {
      this.redis = redis;
      this.where = `${redis.options.host ?? 'localhost'}:${redis.options.port ?? 6379}`;
      this.ownsConnection = false;
    }
    this.scripts = defineScripts(this.redis, loaded);
  }

  /** Runs one script; a negative first element is a refusal mapped to its PoolError. Returns the rest. */
  async run(name: ScriptName, keys: readonly string[], args: readonly (string | number)[], ctx: ScriptCallContext): Promise<Reply> {
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
  async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.closing) {
      throw new PoolError('STORE_UNAVAILABLE', `The Redis pool store (prefix '${this.keys.prefix}') was closed; ${operation} refused.`, {
        operation,
      });
    }
    const held = this.held;
    if (held !== undefined && operation !== 'poolEpoch') await held;
    try {
      return await fn();
    } catch (error) {
      throw redisFailure(error, this.keys, operation, this.where);
    }
  }

  /** Makes later calls (but the pool-epoch check's) wait until `settles` settles; it must never reject. */
  hold(settles: Promise<unknown>): void {
    const held = Promise.all([this.held, settles]);
    this.held = held;
    void held.then(() => {
      if (this.held === held) this.held = undefined;
    });
  }

  /** Several reads in one MULTI: one round trip and one consistent view. */
  async multi(operation: string, build: (m: ReturnType<Redis['multi']>) => ReturnType<Redis['multi']>): Promise<unknown[]> {
    const results = await this.call(operation, () => build(this.redis.multi()).exec());
    if (!results) throw redisFailure(new Error('transaction aborted'), this.keys, operation, this.where);
    return results.map(([error, value]) => {
      if (error) throw redisFailure(error, this.keys, operation, this.where);
      return value;
    });
  }

  /** Safe to call twice. Closes the connection only if it was opened here (from a URL). */
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
}
