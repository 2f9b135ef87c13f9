import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { COORDINATOR_ENV_HINT, COORDINATOR_FILE, coordinatorFileSchema, type CoordinatorFileBody } from '../protocol/coordinator-file.js';

export interface CoordinatorAddress {
  url: string;
  token: string;
  /** Where URL and token came from, for messages. */
  source: string;
}

export interface CoordinatorLookup {
  url?: string | undefined;
  token?: string | undefined;
  /** An explicit coordinator file (--file). */
  file?: string | undefined;
}

/**
 * Finds the coordinator to ask: flags, else the variables a run's workers see, else the file the run wrote
 * next to its config (searched from `cwd` upwards, so `status` works from any folder of the project).
 */
export function findCoordinator(lookup: CoordinatorLookup, cwd: string, isAlive: (pid: number) => boolean = processAlive): CoordinatorAddress {
  if (lookup.url && lookup.token) return { url: lookup.url, token: lookup.token, source: 'flags / environment' };
  if (lookup.url || lookup.token) {
    throw new Error(`${lookup.url ? 'a URL but no token' : 'a token but no URL'} given: pass both --url and --token (or ${COORDINATOR_ENV_HINT})`);
  }
  const file = lookup.file ? resolve(cwd, lookup.file) : searchUp(cwd);
  if (!file) {
    throw new Error(
      `no running pool found: no ${COORDINATOR_FILE} in ${cwd} or above. A run writes it next to its playwright.config.ts while it runs; ` +
        `otherwise pass --url and --token (or ${COORDINATOR_ENV_HINT}).`,
    );
  }
  let parsed: CoordinatorFileBody;
  try {
    parsed = coordinatorFileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch (error) {
    throw new Error(`${file} is not a coordinator file (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); delete it and start the run again`);
  }
  if (parsed.pid !== undefined && !isAlive(parsed.pid)) {
    throw new Error(`${file} belongs to a run that has ended (process ${parsed.pid} is gone): no pool is running. Delete the file if it stays.`);
  }
  return { url: parsed.url, token: parsed.token, source: file };
}

function searchUp(from: string): string | undefined {
  let dir = resolve(from);
  for (;;) {
    const candidate = join(dir, COORDINATOR_FILE);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
