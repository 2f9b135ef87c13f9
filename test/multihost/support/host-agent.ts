import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NetnsChild, TestNetwork } from './netns.js';

export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

export interface AgentOptions {
  readonly redisUrl: string;
  readonly poolId: string;
  /** @defaultValue 2 */
  readonly containers?: number;
  /** @defaultValue 3001 */
  readonly basePort?: number;
  /** `--host-lease-ms`; @defaultValue the agent's own (10 s) */
  readonly hostLeaseMs?: number;
  /** `--drain-grace-ms`; @defaultValue the agent's own (30 s) */
  readonly drainGraceMs?: number;
  /** `--runtime`; for 'docker' pass the namespace's daemon in `env` (DOCKER_HOST). @defaultValue 'process' */
  readonly runtime?: 'process' | 'docker';
  /** Added to the agent's environment (e.g. DOCKER_HOST). */
  readonly env?: Record<string, string>;
}

/** Starting members on a loaded 2-core machine: Chromium-capable MCP servers through a three-stage gate each. */
export const AGENT_READY_BUDGET_MS = 180_000;

/**
 * `cinnamon-pool agent` from source in `host`'s namespace (process runtime unless `runtime` says), advertising the host's bridge
 * address. Run as `node --import tsx src/cli/main.ts` rather than `npx tsx ...`: one process, so SIGTERM reaches
 * the agent itself (and its drain), not a wrapper that may or may not forward it.
 * Resolves once the agent printed its one ready line (it says "healthy").
 */
export async function startAgent(network: TestNetwork, host: string, options: AgentOptions): Promise<{ agent: NetnsChild; readyLine: string }> {
  // The process runtime puts unix sockets under TMPDIR: a short path per host keeps them under the 108-byte limit.
  const tmp = network.tmpDirFor(host);
  const agent = network.exec(
    host,
    [
      process.execPath,
      '--import',
      'tsx',
      'src/cli/main.ts',
      'agent',
      '--redis-url',
      options.redisUrl,
      '--host-id',
      host,
      '--containers',
      String(options.containers ?? 2),
      '--base-port',
      String(options.basePort ?? 3001),
      '--runtime',
      options.runtime ?? 'process',
      '--advertise',
      network.addressOf(host),
      '--pool-id',
      options.poolId,
      ...(options.hostLeaseMs !== undefined ? ['--host-lease-ms', String(options.hostLeaseMs)] : []),
      ...(options.drainGraceMs !== undefined ? ['--drain-grace-ms', String(options.drainGraceMs)] : []),
    ],
    { cwd: REPO_ROOT, env: { TMPDIR: tmp, CINNAMON_POOL_RUNTIME: options.runtime ?? 'process', ...options.env } },
  );
  const readyLine = await agent.waitForLine(/healthy/i, AGENT_READY_BUDGET_MS);
  return { agent, readyLine };
}

export interface ShardOptions {
  readonly redisUrl: string;
  readonly poolId: string;
  /** Added to the shard's environment (run group, output folder, the spec's own variables). */
  readonly env?: Record<string, string>;
}

/**
 * `npx playwright test <args>` as a shard of the shared pool, from `shard`'s namespace: CI on, shared mode, the
 * members' browsers open this namespace's app at its bridge address, TMPDIR under the namespace's folder (removed
 * with the network, and by the next run's sweep after a crash).
 */
export function startShard(network: TestNetwork, shard: string, args: readonly string[], options: ShardOptions): NetnsChild {
  return network.exec(shard, ['npx', 'playwright', 'test', ...args], {
    cwd: REPO_ROOT,
    env: {
      CI: '1',
      CINNAMON_POOL_MODE: 'shared',
      REDIS_URL: options.redisUrl,
      CINNAMON_POOL_ID: options.poolId,
      CINNAMON_POOL_APP_HOST: network.addressOf(shard),
      TMPDIR: network.tmpDirFor(shard),
      ...options.env,
    },
  });
}
