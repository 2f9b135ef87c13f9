import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { PoolError } from '../errors/pool-error.js';
import { luaErrorTable } from './redis-errors.js';

/** Every script the Redis store runs; each is `lua/<name>-<numberOfKeys>.lua`. */
export const SCRIPT_NAMES = [
  'register-containers',
  'transition',
  'record-usage',
  'enqueue',
  'dispatch',
  'cancel',
  'renew',
  'release',
  'revoke',
  'reclaim-expired',
  'list-leases',
  'append-execution',
  'claim-extension',
  'append-audit',
  'grants-for',
  'host-claim',
  'host-renew',
  'host-register-members',
  'host-drain',
  'host-leave',
  'host-reap',
  'pool-epoch',
] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

export interface LoadedScript {
  name: ScriptName;
  numberOfKeys: number;
  /** Source as sent to Redis: error table + includes expanded. */
  lua: string;
}

/**
 * `src/store/lua` when running from source (tsx, vitest), `dist/src/store/lua` when running the build: the
 * build must copy the .lua files next to the compiled module (tsc does not).
 */
export const DEFAULT_LUA_DIR = fileURLToPath(new URL('./lua/', import.meta.url));

const FILE_PATTERN = /^([a-z][a-z-]*)-(\d+)\.lua$/;
const INCLUDE_PATTERN = /^--- @include "([a-z-]+)"\s*$/gm;

/** Reads and prepares every script. Fails with an actionable error when the files are not where they should be. */
export function loadScripts(dir: string = DEFAULT_LUA_DIR): Map<ScriptName, LoadedScript> {
  if (!existsSync(dir)) {
    throw new PoolError(
      'STORE_UNAVAILABLE',
      `The Redis store's Lua scripts are missing: no directory ${dir}. The build must copy src/store/lua to ` +
        `dist/src/store/lua (npm run build does); reinstall the package if it came from npm.`,
      { dir },
    );
  }
  const scripts = new Map<ScriptName, LoadedScript>();
  const errorTable = luaErrorTable();
  for (const file of readdirSync(dir)) {
    const match = FILE_PATTERN.exec(file);
    if (!match) continue;
    const name = match[1] as ScriptName;
    if (!(SCRIPT_NAMES as readonly string[]).includes(name)) continue;
    const other = scripts.get(name);
    if (other) {
      // Two key counts for one script: a build copied over an older one (dispatch-9.lua next to dispatch-12.lua).
      // Running either could shift KEYS into ARGV, so refuse rather than pick.
      throw new PoolError(
        'STORE_UNAVAILABLE',
        `The Redis store's Lua directory ${dir} holds two versions of script ${name} (${name}-${other.numberOfKeys}.lua and ${file}): ` +
          `an older build was left in place. Rebuild from a clean dist/ (npm run build removes it first) or reinstall the package.`,
        { dir, script: name },
      );
    }
    const body = expandIncludes(readFileSync(join(dir, file), 'utf8'), dir, file);
    scripts.set(name, { name, numberOfKeys: Number(match[2]), lua: `${errorTable}\n${body}` });
  }
  const missing = SCRIPT_NAMES.filter((name) => !scripts.has(name));
  if (missing.length > 0) {
    throw new PoolError(
      'STORE_UNAVAILABLE',
      `The Redis store's Lua scripts ${missing.join(', ')} are missing from ${dir}. The build must copy every file of ` +
        `src/store/lua (with includes/) to dist/src/store/lua.`,
      { dir, missing },
    );
  }
  return scripts;
}

/** A script as a method of one connection: `run(keys, args)` → the raw reply. */
export type ScriptRunner = (keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>;

/**
 * Registers the scripts on a connection with defineCommand: ioredis sends EVALSHA and falls back to EVAL once
 * per connection, so every call is one round trip. Names are namespaced so a shared connection's own
 * commands are never shadowed.
 */
export function defineScripts(redis: Redis, scripts: Map<ScriptName, LoadedScript>): Map<ScriptName, ScriptRunner> {
  const runners = new Map<ScriptName, ScriptRunner>();
  for (const script of scripts.values()) {
    const command = `cinnamonPool_${script.name.replace(/-/g, '_')}`;
    redis.defineCommand(command, { numberOfKeys: script.numberOfKeys, lua: script.lua });
    const method = (redis as unknown as Record<string, (...args: (string | number)[]) => Promise<unknown>>)[command];
    if (typeof method !== 'function') throw new Error(`ioredis did not define ${command}`);
    runners.set(script.name, (keys, args) => {
      // The file name states the KEYS count; a mismatch would silently shift KEYS into ARGV.
      if (keys.length !== script.numberOfKeys) throw new Error(`Script ${script.name} takes ${script.numberOfKeys} keys, got ${keys.length}`);
      return method.call(redis, ...keys, ...args);
    });
  }
  return runners;
}

/** Replaces `--- @include "name"` lines with includes/name.lua (one level; includes do not include). */
function expandIncludes(source: string, dir: string, file: string): string {
  return source.replace(INCLUDE_PATTERN, (_line, include: string) => {
    const path = join(dir, 'includes', `${include}.lua`);
    if (!existsSync(path)) {
      throw new PoolError('STORE_UNAVAILABLE', `Lua script ${file} includes ${include}, but ${path} is missing: copy src/store/lua/includes too.`, {
        file,
        include,
      });
    }
    return readFileSync(path, 'utf8');
  });
}
