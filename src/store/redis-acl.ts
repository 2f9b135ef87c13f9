import { PoolError } from '../errors/pool-error.js';
import { RedisKeys } from './redis-keys.js';

/**
 * The least-privilege Redis ACL of one pool: every command this package sends (directly, on connect, or from
 * inside its Lua scripts, which Redis checks against the caller's ACL too), and the key and channel patterns of
 * one key prefix. Users sharing a Redis between teams, CI shards and host agents give each pool a user with
 * exactly this rule (`cinnamon-pool acl` prints it); test/integration/redis-acl.test.ts runs the store, the host
 * registry, notices and the failover check through such a user and checks that the list is exactly what is used.
 */
export const REDIS_ACL_COMMANDS = {
  // The store's Lua scripts: ioredis sends EVALSHA and falls back to EVAL once per connection (NOSCRIPT).
  evalsha: 'the store scripts',
  eval: 'the store scripts, first call on a connection',
  // Called from inside the scripts (src/store/lua) — and some directly (reads in one MULTI, the signing keys).
  get: 'leases, counters, host leases, signing keys',
  set: 'leases, host leases, pool epoch, signing keys (SET NX)',
  del: 'ended leases and grants',
  exists: 'host liveness',
  pttl: 'a taken host lease, for the message',
  pexpire: 'renewed leases and host leases',
  incr: 'host epochs',
  hget: 'container, request and host records',
  hset: 'container, request and host records',
  hdel: 'removed requests, members and hosts',
  hexists: 'duplicate requests',
  hgetall: 'listing containers, requests, hosts, counters',
  hkeys: 'reaping hosts',
  hmget: 'requests in bulk',
  hincrby: 'counters',
  rpush: 'audit log, durations',
  ltrim: 'caps of the audit log and durations',
  lrange: 'reading the audit log and durations',
  zadd: 'queue, lease expiry, container order',
  zcard: 'queue and container order sizes',
  zrange: 'queue, lease expiry, container order',
  zrangebyscore: 'expired leases',
  zrem: 'queue, lease expiry, container order',
  zscore: 'lease expiry',
  multi: 'consistent multi-key reads',
  exec: 'consistent multi-key reads',
  // Redis' clock: TIME inside every script of a shared pool, and a shard's reading of it at start.
  time: "Redis' clock",
  // Notices: the scripts PUBLISH grants, recycles and revocations; coordinators and agents SUBSCRIBE.
  publish: 'grant, recycle and revocation notices (from the scripts)',
  subscribe: 'grant, recycle and revocation notices',
  unsubscribe: 'grant, recycle and revocation notices',
  // INFO: ioredis' ready check on every connection, and the failover watch (run_id, master_replid2).
  info: 'ready check and failover detection',
  ping: '`cinnamon-pool doctor`',
} as const;

export type RedisAclCommand = keyof typeof REDIS_ACL_COMMANDS;

/** @defaultValue 'cinnamon-pool': the Redis user name `cinnamon-pool acl` prints when given none. */
export const DEFAULT_ACL_USER = 'cinnamon-pool';
/** The password placeholder of the printed line: replace it (Redis would take it literally). */
export const ACL_PASSWORD_PLACEHOLDER = 'CHANGE-ME';

/** The key prefix a pool id gets when no prefix is configured (the coordinator, the agent and the CLI use it). */
export function poolKeyPrefix(poolId: string): string {
  return `cinnamon-pool:${poolId}`;
}

/**
 * The ACL rule of one pool prefix: no command but REDIS_ACL_COMMANDS, no key but `<prefix>:*`, no channel but
 * `<prefix>:*`. The trailing ':' matters: `cinnamon-pool:a*` would also grant pool `a2`'s keys.
 */
export function redisAclRule(prefix: string): string {
  const pattern = `${globEscape(new RedisKeys(prefix).prefix)}:*`;
  const commands = Object.keys(REDIS_ACL_COMMANDS).map((c) => `+${c}`);
  return ['resetkeys', 'resetchannels', '-@all', ...commands, `~${pattern}`, `&${pattern}`].join(' ');
}

/** One `ACL SETUSER` line to paste into redis-cli (as an admin): the user, on, a password to replace, the rule. */
export function redisAclSetUser(prefix: string, user = DEFAULT_ACL_USER): string {
  if (!/^[A-Za-z0-9._@-]{1,100}$/.test(user)) {
    throw new PoolError('INVALID_OPTIONS', `Invalid Redis user name ${JSON.stringify(user)}: use 1-100 letters, digits, '.', '_', '@' or '-'.`, { user });
  }
  return `ACL SETUSER ${user} on >${ACL_PASSWORD_PLACEHOLDER} ${redisAclRule(prefix)}`;
}

/** Redis' glob specials (`* ? [ ] \`) taken literally in a key pattern. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** How Redis 7.0 words an ACL refusal of a call made inside a script (7.2+ says NOPERM). */
const SCRIPT_REFUSAL = "The user executing the script can't";

/**
 * The PoolError for a Redis ACL refusal (NOPERM, or the refusal of a command a script ran), or undefined for any
 * other error. Names the command when Redis does (a direct call; 7.0 does not for a call inside a script: its
 * ACL LOG does), says whether a key or channel outside the prefix was refused, and points at `cinnamon-pool acl`.
 */
export function aclDeniedError(error: unknown, prefix: string, operation: string): PoolError | undefined {
  // In a MULTI the refusal is the reply of a queued command (or of MULTI itself): ioredis rejects EXEC with
  // EXECABORT (or 'EXEC without MULTI') and keeps the queued replies' errors as `previousErrors`.
  const previous = (error as { previousErrors?: unknown } | undefined)?.previousErrors;
  const candidates = [error, ...(Array.isArray(previous) ? previous : [])].map((e) => (e instanceof Error ? e.message : String(e)));
  const message = candidates.find((m) => m.includes('NOPERM') || m.includes(SCRIPT_REFUSAL));
  if (message === undefined) return undefined;
  const command = /'([a-z|-]+)' command/i.exec(message)?.[1]?.toLowerCase();
  const refused = /\bkeys?\b/.test(message)
    ? `a key outside the prefix '${prefix}:*'`
    : /\bchannels?\b/.test(message)
      ? `a channel outside '${prefix}:*'`
      : command
        ? `the command ${command.toUpperCase()}`
        : `a command the ${operation} script runs (ACL LOG on the server names it)`;
  return new PoolError(
    'STORE_PERMISSION_DENIED',
    `Redis refused ${refused} during ${operation} (pool prefix '${prefix}'): the Redis user lacks a permission this ` +
      `package needs. Give it the pool's rule: run \`cinnamon-pool acl --prefix ${prefix}\` and paste the ACL SETUSER ` +
      `line it prints into redis-cli as an admin. Redis said: ${message}`,
    { prefix, operation, ...(command ? { command } : {}), redisMessage: message },
    { cause: error },
  );
}
