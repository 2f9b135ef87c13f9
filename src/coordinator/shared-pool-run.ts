import type { Clock } from '../clock/clock.js';
import { OffsetClock } from '../clock/offset-clock.js';
import type { PoolConfig } from '../config/pool-config.js';
import { ContainerPoolManager } from '../pool/container-pool-manager.js';
import type { PoolLogger } from '../pool/pool-events.js';
import type { RuntimeKind } from '../runtime/container-runtime.js';
import type { HostListing } from '../store/host-registry.js';
import { redactUrl } from '../store/redact-url.js';
import { poolKeyPrefix } from '../store/redis-acl.js';
import { RedisHostRegistry } from '../store/redis-host-registry.js';
import { RedisPoolStore } from '../store/redis-store.js';
import { resolveAppHost } from './app-host.js';
import type { PluginOptions } from './container-pool-options.js';
import { assertRedisAnswers } from './redis-start-check.js';
import { readRedisTime } from './redis-time.js';
import { RemoteHosts } from './remote-hosts.js';

export interface SharedPoolParts {
  store: RedisPoolStore;
  manager: ContainerPoolManager;
  /** Follows Redis' clock (synced once at start). */
  clock: OffsetClock;
  /** What the coordinator tells workers the members run in: the first serving host's runtime. */
  runtime: RuntimeKind;
  /** How many members the live hosts serve. */
  members: number;
  /** Where this shard's app is opened by the members' browsers (appUrl's loopback rewrite). */
  appHost: string;
  /** The run's first log line: mode, hosts, store. */
  line: string;
}

export interface SharedPoolInput {
  pool: PoolConfig;
  plugin: Pick<PluginOptions, 'redisUrl' | 'redisKeyPrefix' | 'appHost'>;
  clock: Clock;
  logger: PoolLogger;
  /** Called with what to undo should a later step fail (the store; the manager once built). */
  onCleanup: (cleanup: () => Promise<unknown>) => void;
}

/**
 * A shard of a shared pool (issue 11): no runtime, no members of its own. Opens the store on Redis' clock
 * (`serverTime`: leases and deadlines use Redis' TIME, so machines' clocks cannot disagree about them), syncs
 * an OffsetClock to Redis for the figures computed here, and starts a ContainerPoolManager over RemoteHosts:
 * initialize() fails with NO_LIVE_HOST unless a live host agent serves the pool.
 */
export async function openSharedPool(input: SharedPoolInput): Promise<SharedPoolParts> {
  const { pool, plugin, logger } = input;
  const url = plugin.redisUrl;
  if (!url) throw new Error("openSharedPool: mode 'shared' needs redisUrl (parseContainerPoolOptions refuses it without)");
  const appHost = resolveAppHost(plugin.appHost);
  const keyPrefix = plugin.redisKeyPrefix ?? poolKeyPrefix(pool.poolId);
  const where = redactUrl(url);
  const store = new RedisPoolStore({ redis: url, keyPrefix, serverTime: true });
  input.onCleanup(() => store.close());
  await assertRedisAnswers(store, where, input.clock, true);
  const clock = new OffsetClock(input.clock);
  const offset = await clock.sync(() => readRedisTime(url));
  const registry = new RedisHostRegistry(store);
  let remote: RemoteHosts | undefined;
  const manager = new ContainerPoolManager({
    config: pool,
    store,
    clock,
    logger,
    host: (wiring) => (remote = new RemoteHosts({ wiring, registry, where })),
  });
  input.onCleanup(() => manager.shutdown());
  await manager.initialize();
  const hosts = remote!.hosts;
  const members = hosts.reduce((n, h) => n + h.members.length, 0);
  const line =
    `mode: shared (hosts ${describeHosts(hosts)}); store: redis (redisUrl ${where}, key prefix '${keyPrefix}', Redis time, this machine ${signed(-offset)} ms); ` +
    `app host ${appHost.host} (${appHost.reason})`;
  return { store, manager, clock, runtime: hosts[0]!.runtime, members, appHost: appHost.host, line };
}

/** `h1: 2 members at 10.231.0.2, h2: 2 at 10.231.0.3` */
export function describeHosts(hosts: readonly Pick<HostListing, 'hostId' | 'members' | 'address'>[]): string {
  return hosts.map((h, i) => `${h.hostId}: ${h.members.length}${i === 0 ? ` member${h.members.length === 1 ? '' : 's'}` : ''} at ${h.address}`).join(', ');
}

function signed(n: number): string {
  return n >= 0 ? `+${n}` : String(n);
}
