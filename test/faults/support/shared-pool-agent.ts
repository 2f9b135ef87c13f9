import type { Redis } from 'ioredis';
import { z } from 'zod';
import { startAgent } from '../../multihost/support/host-agent.js';
import type { NetnsChild, TestNetwork } from '../../multihost/support/netns.js';
import type { HostListing, HostRegistry } from '../../../src/store/host-registry.js';

export interface FaultAgentOptions {
  readonly redisUrl: string;
  readonly poolId: string;
  /** Host lease TTL, ms: short, so that a lost host is noticed within seconds. */
  readonly hostLeaseMs: number;
  /** @defaultValue 1 */
  readonly containers?: number;
  /** @defaultValue 3101 */
  readonly basePort?: number;
}

/**
 * `cinnamon-pool agent` from source in `host`'s namespace (process runtime, advertising the host's bridge address)
 * with a short host lease; resolves on its ready line. The multihost tier's startAgent has no --host-lease-ms,
 * and the fault cases need one short enough to see a host lost several times within the file's budget.
 */
export function startFaultAgent(network: TestNetwork, host: string, options: FaultAgentOptions): Promise<{ agent: NetnsChild; readyLine: string }> {
  return startAgent(network, host, { containers: 1, basePort: 3101, drainGraceMs: 0, ...options });
}

/** The host record as the store holds it (undefined once the host was reaped or left). */
export async function readHost(registry: HostRegistry, hostId: string): Promise<HostListing | undefined> {
  return (await registry.listHosts()).find((h) => h.hostId === hostId);
}

/** Redis' own time, epoch ms: what every lease and host record time in a serverTime store is measured on. */
export async function redisNow(redis: Redis): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/** Polls `probe` until it returns a value other than undefined; a budget, not a measurement. */
export async function eventually<T>(what: string, budgetMs: number, probe: () => Promise<T | undefined>, explain?: () => Promise<string>): Promise<T> {
  const deadline = performance.now() + budgetMs;
  let delay = 50;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`${what}: not within ${budgetMs} ms${explain ? `\n${await explain()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 250);
  }
}

const storedHostSchema = z.object({ epoch: z.number().int(), expiresAt: z.number() });

/**
 * The host record's epoch and expiresAt as written by the agent's last successful claim or renewal (Redis time),
 * read straight from the hash: a listing reports 0 once the host lease key is gone, this keeps the last value.
 */
export async function readStoredHost(redis: Redis, prefix: string, hostId: string): Promise<{ epoch: number; expiresAt: number } | undefined> {
  const raw = await redis.hget(`${prefix}:hosts`, hostId);
  return raw === null ? undefined : storedHostSchema.parse(JSON.parse(raw));
}
