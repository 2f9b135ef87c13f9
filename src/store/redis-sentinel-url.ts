import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';
import { PoolError } from '../errors/pool-error.js';

/** @defaultValue 26379: Redis Sentinel's port when a sentinel address in the URL names none. */
export const DEFAULT_SENTINEL_PORT = 26379;

const SCHEME = 'redis-sentinel://';
const FORM = 'redis-sentinel://[:password@]host:port[,host:port...]/<masterName>';
const EXAMPLE = 'redis-sentinel://10.0.0.5:26379,10.0.0.6:26379/mymaster';

/** Where a `redis-sentinel://` URL points: the sentinels to ask and the name of the master they watch. */
export interface SentinelTarget {
  sentinels: Array<{ host: string; port: number }>;
  /** The master group name the sentinels monitor (`sentinel monitor <name> ...`). */
  name: string;
  /** The master's (and replicas') password, when the URL has one; sentinels themselves are asked without. */
  password?: string;
  username?: string;
}

/** True for a `redis-sentinel://` URL (a pool behind Redis Sentinel, which follows failovers). */
export function isSentinelUrl(url: string): boolean {
  return url.toLowerCase().startsWith(SCHEME);
}

/**
 * Parses `redis-sentinel://[[user]:password@]host[:port][,host[:port]...]/<masterName>` (IPv6 hosts in brackets).
 * Throws INVALID_OPTIONS naming what is wrong and the form to use; the password never appears in the message.
 */
export function parseSentinelUrl(url: string): SentinelTarget {
  if (!isSentinelUrl(url)) throw invalid(url, `it does not start with ${SCHEME}`);
  const rest = url.slice(SCHEME.length);
  const at = rest.lastIndexOf('@');
  const auth = at >= 0 ? rest.slice(0, at) : undefined;
  const afterAuth = at >= 0 ? rest.slice(at + 1) : rest;
  const slash = afterAuth.indexOf('/');
  if (slash < 0) throw invalid(url, 'the master name is missing (the path after the sentinel addresses)');
  const hostList = afterAuth.slice(0, slash);
  const name = decode(url, afterAuth.slice(slash + 1), 'master name');
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(name)) {
    throw invalid(url, `master name ${JSON.stringify(name)} must be 1-100 letters, digits, '.', '_' or '-' (as in 'sentinel monitor <name>')`);
  }
  if (hostList === '') throw invalid(url, 'no sentinel address is given');
  const sentinels = hostList.split(',').map((entry) => sentinelAddress(url, entry));
  const target: SentinelTarget = { sentinels, name };
  if (auth !== undefined) {
    const colon = auth.indexOf(':');
    if (colon < 0) throw invalid(url, "the credentials must be ':password@' or 'user:password@'");
    const username = decode(url, auth.slice(0, colon), 'user name');
    const password = decode(url, auth.slice(colon + 1), 'password');
    if (username !== '') target.username = username;
    if (password !== '') target.password = password;
  }
  return target;
}

const load = createRequire(import.meta.url);
let redisClass: typeof Redis | undefined;

/**
 * Opens an ioredis connection for a pool URL: `redis://`/`rediss://` as ioredis reads them, `redis-sentinel://`
 * through the sentinels (ioredis asks them for the master and again after each failover). `options` apply to both.
 */
export function openRedis(url: string, options: RedisOptions): Redis {
  // ioredis is loaded on first use: every Playwright worker loads this package with the config, and none of
  // them opens Redis (they reach the coordinator over HTTP).
  redisClass ??= (load('ioredis') as typeof import('ioredis')).Redis;
  const Redis = redisClass;
  // No CLIENT SETINFO on connect (Redis 7.2+): a user made by `cinnamon-pool acl` may run only the pool's commands,
  // and every connection would leave a denied-command entry in the server's ACL LOG.
  const withDefaults: RedisOptions = { disableClientInfo: true, ...options };
  if (!isSentinelUrl(url)) return new Redis(url, withDefaults);
  const target = parseSentinelUrl(url);
  return new Redis({ ...withDefaults, sentinels: target.sentinels, name: target.name, password: target.password, username: target.username });
}

function sentinelAddress(url: string, entry: string): { host: string; port: number } {
  const match = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(entry) ?? /^([A-Za-z0-9._-]+)(?::(\d+))?$/.exec(entry);
  if (!match) throw invalid(url, `sentinel address ${JSON.stringify(entry)} is not host:port`);
  const port = match[2] === undefined ? DEFAULT_SENTINEL_PORT : Number(match[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(url, `sentinel port ${match[2]} is not 1-65535`);
  return { host: match[1]!, port };
}

function decode(url: string, raw: string, what: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw invalid(url, `the ${what} is not valid percent-encoding`);
  }
}

function invalid(url: string, why: string): PoolError {
  const shown = url.replace(/^([^/]*\/\/)[^@/]*@/, '$1***@');
  return new PoolError('INVALID_OPTIONS', `Invalid Redis Sentinel URL ${shown}: ${why}. Use ${FORM} (e.g. ${EXAMPLE}).`, { url: shown });
}
