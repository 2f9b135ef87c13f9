import { z } from 'zod';
import { parseOptions } from '../config/parse-options.js';
import { parsePoolOptions, type PoolConfig } from '../config/pool-config.js';
import type { PoolOptionsInput } from '../config/schemas.js';
import { isPoolError, PoolError } from '../errors/pool-error.js';
import { RUNTIME_CHOICES } from '../runtime/select-runtime.js';

/** @defaultValue '.cinnamon-pool/history.json' (under the config's folder): adaptive-timeout history of the embedded store. */
export const DEFAULT_HISTORY_FILE = '.cinnamon-pool/history.json';

/** Options of the Playwright plugin itself, next to the pool's own. */
export const pluginOptionsSchema = z
  .object({
    /** Where containers run; env CINNAMON_POOL_RUNTIME overrides. @defaultValue 'auto' */
    runtime: z.enum(RUNTIME_CHOICES).default('auto'),
    /** `redis://` URL of a shared store; absent → the embedded in-memory store. */
    redisUrl: z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .optional(),
    /** Key prefix in Redis. @defaultValue `cinnamon-pool:<poolId>` */
    redisKeyPrefix: z.string().min(1).max(100).optional(),
    /** Docker image tag of the MCP server. @defaultValue the tag `npx cinnamon-pool image tag` prints (docker/build-image.sh --print-tag) */
    dockerImage: z.string().min(1).optional(),
    /** History file of the embedded store, relative to the config's folder. @defaultValue DEFAULT_HISTORY_FILE */
    historyFile: z.string().min(1).optional(),
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
 * plugin options alike), with what was given and what is allowed.
 */
export function parseContainerPoolOptions(input: unknown): ParsedContainerPoolOptions {
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
  if (problems.length || !plugin || !pool) {
    throw new PoolError(
      'INVALID_OPTIONS',
      `Invalid withContainerPool options:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      { what: 'withContainerPool options', problems },
    );
  }
  return { pool, plugin };
}

function problemsOf(error: unknown): string[] {
  if (isPoolError(error, 'INVALID_OPTIONS') && Array.isArray(error.data.problems)) return error.data.problems.map(String);
  throw error;
}
