import { parseArgs } from 'node:util';
import { AGENT_POOL_ID_ENV, AGENT_REDIS_URL_ENV, DEFAULT_AGENT_NAME_PREFIX, DEFAULT_AGENT_POOL_ID, DEFAULT_DRAIN_GRACE_MS, DEFAULT_HOST_LEASE_MS, parseAgentOptions, type AgentOptions, type AgentOptionsInput } from '../agent/agent-options.js';

/** The command's lines in `cinnamon-pool help`. */
export const AGENT_USAGE = `  agent    serve this machine's MCP members to a shared pool in Redis (foreground; SIGTERM/SIGINT drains)
    --redis-url URL                 the pool's Redis (default: $${AGENT_REDIS_URL_ENV})
    --host-id NAME                  this machine's name in the pool (one live agent per name)
    --containers N                  members to run here
    --base-port P                   first member port (members use P .. P+N-1)
    --runtime docker|process        how members run
    --advertise ADDRESS             address other machines reach this one at (default: first non-internal IPv4)
    --prefix P                      member name prefix (default ${DEFAULT_AGENT_NAME_PREFIX})
    --pool-id ID                    pool to serve (default: $${AGENT_POOL_ID_ENV}, else ${DEFAULT_AGENT_POOL_ID})
    --host-lease-ms MS              host lease TTL (default ${DEFAULT_HOST_LEASE_MS})
    --drain-grace-ms MS             how long a drain waits for holders (default ${DEFAULT_DRAIN_GRACE_MS})
    --control-port P                control endpoint port (default 0: any free port)
`;

export interface AgentCommand {
  kind: 'agent';
  options: AgentOptions;
}

const FLAGS = {
  'redis-url': 'redisUrl',
  'host-id': 'hostId',
  containers: 'containers',
  'base-port': 'basePort',
  runtime: 'runtime',
  advertise: 'advertise',
  prefix: 'prefix',
  'pool-id': 'poolId',
  'host-lease-ms': 'hostLeaseMs',
  'drain-grace-ms': 'drainGraceMs',
  'control-port': 'controlPort',
} as const satisfies Record<string, keyof AgentOptionsInput>;
const NUMERIC = new Set<string>(['containers', 'basePort', 'hostLeaseMs', 'drainGraceMs', 'controlPort']);

/**
 * Parses `agent --redis-url URL --host-id NAME ...` into the agent's options (src/agent/agent-options.ts). Unknown
 * flags and positionals go to `usage` (exit code 2); bad values are the options' INVALID_OPTIONS (exit code 2),
 * naming every bad flag by its option name. Nothing is started here.
 */
export function parseAgent(args: readonly string[], env: NodeJS.ProcessEnv, usage: (message: string) => never): AgentCommand {
  let values: Record<string, string | undefined>;
  try {
    const options = Object.fromEntries(Object.keys(FLAGS).map((flag) => [flag, { type: 'string' as const }]));
    values = parseArgs({ args: [...args], options, strict: true, allowPositionals: false }).values as Record<string, string | undefined>;
  } catch (error) {
    return usage(error instanceof Error ? error.message : String(error));
  }
  const input: Record<string, string | number> = {};
  for (const [flag, key] of Object.entries(FLAGS)) {
    const text = values[flag];
    if (text === undefined) continue;
    // A whole number becomes one; anything else stays text so the option check names it with what was given.
    input[key] = NUMERIC.has(key) && /^\d{1,15}$/.test(text.trim()) ? Number(text.trim()) : text;
  }
  return { kind: 'agent', options: parseAgentOptions(input as Partial<AgentOptionsInput>, env) };
}
