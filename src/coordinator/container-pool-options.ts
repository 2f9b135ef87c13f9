import { z } from 'zod';
import { parseOptions } from '../config/parse-options.js';
import { parsePoolOptions, type PoolConfig } from '../config/pool-config.js';
import { RUN_GROUP_PATTERN, RUN_GROUP_RULE, runGroupFromCi } from '../config/run-group.js';
import type { PoolOptionsInput } from '../config/schemas.js';
import { isPoolError, PoolError } from '../errors/pool-error.js';
import { RUNTIME_CHOICES } from '../runtime/select-runtime.js';
import { MIN_REUSE_IDLE_MS, resolveReuse, ReuseEnvError } from './warm-pool-options.js';

/** 'local': this run starts its own members; 'shared': host agents keep them, shards only allocate (issue 11). */
export const POOL_MODES = ['local', 'shared'] as const;
export type PoolMode = (typeof POOL_MODES)[number];
/** @defaultValue 'local' */
export const DEFAULT_POOL_MODE: PoolMode = 'local';

/** Environment variable that overrides the `mode` option (a CI tier switches to a shared pool without code changes). */
export const MODE_ENV_VAR = 'CINNAMON_POOL_MODE';
/** Environment variable that overrides the `appHost` option. */
export const APP_HOST_ENV_VAR = 'CINNAMON_POOL_APP_HOST';
/** Environment variable that overrides the pool option `poolId` (shards of one CI build name the same pool). */
export const POOL_ID_ENV_VAR = 'CINNAMON_POOL_ID';
/** Environment variable that overrides the pool option `tenant` (a team or suite sharing a pool). */
export const TENANT_ENV_VAR = 'CINNAMON_POOL_TENANT';
/** Environment variable that overrides the pool option `runGroup` (every shard of one build sets the same). */
export const RUN_GROUP_ENV_VAR = 'CINNAMON_POOL_RUN_GROUP';

/** @defaultValue '.cinnamon-pool/history.json' (under the config's folder): adaptive-timeout history of the embedded store. */
export const DEFAULT_HISTORY_FILE = '.cinnamon-pool/history.json';

/** Options of the Playwright plugin itself, next to the pool's own. */
export const pluginOptionsSchema = z
  .object({
    /**
     * 'local': this run starts its own members. 'shared': members are kept by host agents (`cinnamon-pool agent`)
     * on a Redis every shard shares (needs redisUrl); this run starts none. Env CINNAMON_POOL_MODE overrides.
     * @defaultValue {@link DEFAULT_POOL_MODE}
     */
    mode: z.enum(POOL_MODES).default(DEFAULT_POOL_MODE),
    /**
     * Shared mode: the address of this machine that the members' browsers (on other hosts) open the app at;
     * `appUrl()` rewrites loopback hosts to it. Env CINNAMON_POOL_APP_HOST overrides.
     * @defaultValue this machine's first non-internal IPv4 address (shared mode only)
     */
    appHost: z.string().min(1).max(253).regex(/^[^\s/:@]+$|^\[[0-9a-fA-F:.]+\]$/, 'must be a host name or address, without scheme or port').optional(),
    /** Where containers run; env CINNAMON_POOL_RUNTIME overrides. @defaultValue 'auto' */
    runtime: z.enum(RUNTIME_CHOICES).default('auto'),
    /**
     * `redis://` URL of a shared store, or `redis-sentinel://[:password@]host:port[,host:port...]/<masterName>` for
     * a Redis behind Sentinel (a failover revokes the leases of the old master); absent → the in-memory store.
     */
    redisUrl: z
      .string()
      .regex(/^(rediss?|redis-sentinel):\/\//, 'must be a redis://, rediss:// or redis-sentinel:// URL')
      .optional(),
    /** Key prefix in Redis. @defaultValue `cinnamon-pool:<poolId>` */
    redisKeyPrefix: z.string().min(1).max(100).optional(),
    /** Docker image tag of the MCP server. @defaultValue the tag `npx cinnamon-pool image tag` prints (docker/build-image.sh --print-tag) */
    dockerImage: z.string().min(1).optional(),
    /** History file of the embedded store, relative to the config's folder. @defaultValue DEFAULT_HISTORY_FILE */
    historyFile: z.string().min(1).optional(),
    /**
     * Keep the members running after the run and take them over (cleaned, health-gated) in the next run with the
     * same configuration, instead of starting them anew (issue 13). Local mode, process or Docker runtime; a
     * lock keeps two runs off one warm pool; `npx cinnamon-pool down` stops it. Off under CI unless
     * CINNAMON_POOL_REUSE=1; that variable overrides the option either way. @defaultValue false
     */
    reuse: z.boolean().optional(),
    /**
     * A warm pool with no connection for this long stops itself, ms; more than twice health.healthCheckIntervalMs
     * (those checks keep a member no test uses busy during a run). @defaultValue {@link DEFAULT_REUSE_IDLE_MS} (20 min)
     */
    reuseIdleMs: z.number().int().min(MIN_REUSE_IDLE_MS).optional(),
  })
  .strict();
export type PluginOptions = z.output<typeof pluginOptionsSchema>;
export type PluginOptionsInput = z.input<typeof pluginOptionsSchema>;

/** What `withContainerPool(config, options)` takes: the pool's options plus the plugin's. */
export type ContainerPoolOptions = PoolOptionsInput & PluginOptionsInput;

const PLUGIN_KEYS = Object.keys(pluginOptionsSchema.shape) as Array<keyof PluginOptions>;

export interface ParsedContainerPoolOptions {
  pool: PoolConfig;
  plugin: PluginOptions;
}

/**
 * Validates the whole options object at once: one INVALID_OPTIONS error lists every bad path (pool and
 * plugin options alike), with what was given and what is allowed. CINNAMON_POOL_MODE, CINNAMON_POOL_APP_HOST,
 * CINNAMON_POOL_ID, CINNAMON_POOL_TENANT and CINNAMON_POOL_RUN_GROUP in `env` override `mode`, `appHost`,
 * `poolId`, `tenant` and `runGroup` (a CI tier runs a config unchanged). Without either, `runGroup` is the CI
 * build id `env` shows (runGroupFromCi), or none.
 */
export function parseContainerPoolOptions(input: unknown, env: NodeJS.ProcessEnv = process.env): ParsedContainerPoolOptions {
  if (input !== undefined && (typeof input !== 'object' || input === null || Array.isArray(input))) {
    throw new PoolError('INVALID_OPTIONS', `Invalid withContainerPool options: expected an object, got ${JSON.stringify(input)}.`, { problems: ['(root): expected an object'] });
  }
  const record = (input ?? {}) as Record<string, unknown>;
  const pluginPart: Record<string, unknown> = {};
  const poolPart: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    // `redisUrl: process.env.REDIS_URL` is undefined when unset: that means "not given".
    if (value === undefined) continue;
    if ((PLUGIN_KEYS as string[]).includes(key)) pluginPart[key] = value;
    else poolPart[key] = value;
  }
  const problems: string[] = [];
  applyEnvOverrides(pluginPart, poolPart, env, problems);
  let plugin: PluginOptions | undefined;
  let pool: PoolConfig | undefined;
  try {
    plugin = parseOptions(pluginOptionsSchema, pluginPart, 'container pool options');
  } catch (error) {
    problems.push(...problemsOf(error));
  }
  try {
    pool = parsePoolOptions(poolPart as PoolOptionsInput);
  } catch (error) {
    problems.push(...problemsOf(error));
  }
  if (plugin?.mode === 'shared' && !plugin.redisUrl) {
    problems.push(
      `mode: 'shared' needs redisUrl (the Redis the host agents and every shard share): set redisUrl (or REDIS_URL in the config), or use mode: 'local'${env[MODE_ENV_VAR]?.trim() ? ` (unset ${MODE_ENV_VAR})` : ''}`,
    );
  }
  if (plugin) reuseProblems(plugin, env, problems);
  // The health checks are what keeps a warm member that serves a run from counting as idle.
  if (plugin?.reuseIdleMs !== undefined && pool && plugin.reuseIdleMs <= 2 * pool.health.healthCheckIntervalMs) {
    problems.push(`reuseIdleMs (${plugin.reuseIdleMs}) must be more than twice health.healthCheckIntervalMs (${pool.health.healthCheckIntervalMs}): a member that no test uses during a run is only kept busy by its health checks`);
  }
  if (problems.length || !plugin || !pool) {
    throw new PoolError(
      'INVALID_OPTIONS',
      `Invalid withContainerPool options:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      { what: 'withContainerPool options', problems },
    );
  }
  return { pool, plugin };
}

function applyEnvOverrides(pluginPart: Record<string, unknown>, poolPart: Record<string, unknown>, env: NodeJS.ProcessEnv, problems: string[]): void {
  const mode = env[MODE_ENV_VAR]?.trim();
  if (mode) {
    if ((POOL_MODES as readonly string[]).includes(mode)) pluginPart.mode = mode;
    else problems.push(`${MODE_ENV_VAR}=${JSON.stringify(mode)} is not a pool mode; use one of ${POOL_MODES.join(', ')}, or unset it`);
  }
  const appHost = env[APP_HOST_ENV_VAR]?.trim();
  if (appHost) pluginPart.appHost = appHost;
  const poolId = env[POOL_ID_ENV_VAR]?.trim();
  if (poolId) poolPart.poolId = poolId;
  const tenant = env[TENANT_ENV_VAR]?.trim();
  if (tenant) poolPart.tenant = tenant;
  const runGroup = env[RUN_GROUP_ENV_VAR]?.trim();
  if (runGroup) {
    if (RUN_GROUP_PATTERN.test(runGroup)) poolPart.runGroup = runGroup;
    else problems.push(`${RUN_GROUP_ENV_VAR}=${JSON.stringify(runGroup)} is not a run group: it ${RUN_GROUP_RULE}; set it to the CI build id, or unset it`);
  } else if (poolPart.runGroup === undefined) {
    const fromCi = runGroupFromCi(env);
    if (fromCi !== undefined) poolPart.runGroup = fromCi;
  }
}

/** CINNAMON_POOL_REUSE must say on or off; a warm pool is one machine's members, so not with mode 'shared'. */
function reuseProblems(plugin: PluginOptions, env: NodeJS.ProcessEnv, problems: string[]): void {
  try {
    const reuse = resolveReuse(plugin.reuse, env);
    if (reuse.on && plugin.mode === 'shared') {
      problems.push(`reuse (${reuse.why}) keeps this machine's own members warm; mode 'shared' starts none (the host agents keep theirs): turn reuse off, or use mode 'local'`);
    }
  } catch (error) {
    if (!(error instanceof ReuseEnvError)) throw error;
    problems.push(error.message);
  }
}

function problemsOf(error: unknown): string[] {
  if (isPoolError(error, 'INVALID_OPTIONS') && Array.isArray(error.data.problems)) return error.data.problems.map(String);
  throw error;
}
