import { networkInterfaces } from 'node:os';
import { z } from 'zod';
import { parseOptions } from '../config/parse-options.js';
import { PoolError } from '../errors/pool-error.js';

/** The pool a host agent serves when neither `--pool-id` nor CINNAMON_POOL_ID says (the pool config's default). */
export const DEFAULT_AGENT_POOL_ID = 'cinnamon-qa';
/** Member name prefix: `<prefix>-<hostId>-<i>` (Docker container names, process sandboxes). */
export const DEFAULT_AGENT_NAME_PREFIX = 'cinnamon-qa-mcp';
/** Host lease TTL, ms: renewed every third of it; the agent stops serving before it can run out. */
export const DEFAULT_HOST_LEASE_MS = 10_000;
/** How long a drain waits for holders to finish before their leases are revoked, ms. */
export const DEFAULT_DRAIN_GRACE_MS = 30_000;
/** Environment fallbacks of `--redis-url` and `--pool-id`. */
export const AGENT_REDIS_URL_ENV = 'REDIS_URL';
export const AGENT_POOL_ID_ENV = 'CINNAMON_POOL_ID';

/** A host id: a member id `<hostId>-<i>` and a name `<prefix>-<hostId>-<i>` must stay valid container ids/names (63 chars). */
const HOST_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,31}$/;
/** Member ports as the pool's container specs accept them (unprivileged). */
const memberPort = z.number().int().min(1024, 'must be 1024-65535').max(65_535, 'must be 1024-65535');

export const agentOptionsSchema = z
  .object({
    /**
     * Redis of the shared pool (`redis://[:password@]host:port[/db]`, or behind Sentinel
     * `redis-sentinel://[:password@]host:port[,host:port...]/<masterName>`). @defaultValue $REDIS_URL
     */
    redisUrl: z.string().regex(/^(rediss?|redis-sentinel):\/\/\S+$/, 'must be a redis://, rediss:// or redis-sentinel:// URL'),
    /** This machine's name in the pool: one live agent per host id. */
    hostId: z.string().regex(HOST_ID, 'must be 1-32 letters, digits, _ . - (start with a letter or digit)'),
    /** Members this host contributes. */
    containers: z.number().int().min(1).max(64),
    /** First member port: members listen on basePort .. basePort + containers - 1. */
    basePort: memberPort,
    runtime: z.enum(['docker', 'process']),
    /** Address other machines reach the members and the control endpoint at (IP or DNS name, no port). @defaultValue the first non-internal IPv4 */
    advertise: z.string().regex(/^[^\s/:*,]+$/, 'must be an IP address or DNS name without a port').optional(),
    /** Member name prefix. @defaultValue {@link DEFAULT_AGENT_NAME_PREFIX} */
    prefix: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,20}$/, 'must be 1-21 letters, digits, _ . -').default(DEFAULT_AGENT_NAME_PREFIX),
    /** Pool id; the Redis key prefix is `cinnamon-pool:<poolId>`, as a run with `redisUrl` uses. @defaultValue $CINNAMON_POOL_ID, else {@link DEFAULT_AGENT_POOL_ID} */
    poolId: z.string().regex(/^[a-zA-Z0-9_-]{1,40}$/, 'must be 1-40 letters, digits, _ - (the pool option poolId accepts the same)').default(DEFAULT_AGENT_POOL_ID),
    /** Host lease TTL, ms (at least 1.5 s: three renewals fit in it with room to self-fence). @defaultValue {@link DEFAULT_HOST_LEASE_MS} */
    hostLeaseMs: z.number().int().min(1_500).max(600_000).default(DEFAULT_HOST_LEASE_MS),
    /** How long a drain waits for holders before revoking, ms. @defaultValue {@link DEFAULT_DRAIN_GRACE_MS} */
    drainGraceMs: z.number().int().nonnegative().max(3_600_000).default(DEFAULT_DRAIN_GRACE_MS),
    /** Port of the control endpoint; 0 = any free port. @defaultValue 0 */
    controlPort: z.number().int().min(0).max(65_535).default(0),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.basePort + o.containers - 1 > 65_535) ctx.addIssue({ code: 'custom', path: ['basePort'], message: `basePort + containers - 1 must be at most 65535` });
    if (o.controlPort !== 0 && o.controlPort >= o.basePort && o.controlPort < o.basePort + o.containers) {
      ctx.addIssue({ code: 'custom', path: ['controlPort'], message: `must not be one of the member ports ${o.basePort}-${o.basePort + o.containers - 1}` });
    }
  });

export type AgentOptionsInput = z.input<typeof agentOptionsSchema>;
export type AgentOptions = z.output<typeof agentOptionsSchema> & { advertise: string };

/** One member of this host: id `<hostId>-<i>`, name `<prefix>-<hostId>-<i>`, port basePort + i - 1 (i from 1). */
export interface AgentMemberSpec {
  id: string;
  name: string;
  port: number;
}

type Interfaces = ReturnType<typeof networkInterfaces>;

/**
 * The agent's options from flags (`input`) and the environment: `redisUrl` falls back to $REDIS_URL, `poolId` to
 * $CINNAMON_POOL_ID, `advertise` to the first non-internal IPv4 address of this machine. Throws one
 * INVALID_OPTIONS naming every bad field (nothing has started yet).
 */
export function parseAgentOptions(input: Partial<AgentOptionsInput>, env: NodeJS.ProcessEnv = process.env, interfaces: () => Interfaces = networkInterfaces): AgentOptions {
  const withEnv = {
    ...input,
    ...(input.redisUrl === undefined && env[AGENT_REDIS_URL_ENV]?.trim() ? { redisUrl: env[AGENT_REDIS_URL_ENV]!.trim() } : {}),
    ...(input.poolId === undefined && env[AGENT_POOL_ID_ENV]?.trim() ? { poolId: env[AGENT_POOL_ID_ENV]!.trim() } : {}),
  };
  const options = parseOptions(agentOptionsSchema, withEnv, `agent options (flags, $${AGENT_REDIS_URL_ENV}, $${AGENT_POOL_ID_ENV})`);
  return { ...options, advertise: options.advertise ?? defaultAdvertise(interfaces()) };
}

/** The first non-internal IPv4 address; INVALID_OPTIONS when the machine has none. */
export function defaultAdvertise(interfaces: Interfaces): string {
  for (const addresses of Object.values(interfaces)) {
    for (const address of addresses ?? []) if (address.family === 'IPv4' && !address.internal) return address.address;
  }
  throw new PoolError(
    'INVALID_OPTIONS',
    'Invalid agent options:\n  - advertise: this machine has no non-internal IPv4 address to advertise; pass --advertise ADDRESS (an IP or DNS name other machines reach this host at)',
    { what: 'agent options', problems: ['advertise: no non-internal IPv4 address'] },
  );
}

/** This host's members, in order. */
export function agentMemberSpecs(options: Pick<AgentOptions, 'hostId' | 'containers' | 'basePort' | 'prefix'>): AgentMemberSpec[] {
  return Array.from({ length: options.containers }, (_, k) => ({
    id: `${options.hostId}-${k + 1}`,
    name: `${options.prefix}-${options.hostId}-${k + 1}`,
    port: options.basePort + k,
  }));
}

