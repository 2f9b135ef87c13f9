import { describe, expect, it } from 'vitest';
import { containerSpecSchema } from '../config/schemas.js';
import { isPoolError } from '../errors/pool-error.js';
import { poolKeyPrefix } from '../store/redis-acl.js';
import { agentMemberSpecs, DEFAULT_AGENT_POOL_ID, DEFAULT_DRAIN_GRACE_MS, DEFAULT_HOST_LEASE_MS, defaultAdvertise, parseAgentOptions } from './agent-options.js';

const required = { redisUrl: 'redis://127.0.0.1:6379', hostId: 'h1', containers: 2, basePort: 3001, runtime: 'process' as const };
const lan = () => ({
  lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }],
  eth0: [
    { address: 'fe80::1', family: 'IPv6', internal: false },
    { address: '10.231.0.2', family: 'IPv4', internal: false },
  ],
}) as never;

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isPoolError(error, 'INVALID_OPTIONS')) return error.message;
    throw error;
  }
  throw new Error('expected INVALID_OPTIONS');
}

describe('host agent options (cinnamon-pool agent flags)', () => {
  it('fills the defaults and advertises the first non-internal IPv4 address', () => {
    const options = parseAgentOptions(required, {}, lan);
    expect(options).toMatchObject({ ...required, poolId: DEFAULT_AGENT_POOL_ID, prefix: 'cinnamon-qa-mcp', hostLeaseMs: DEFAULT_HOST_LEASE_MS, drainGraceMs: DEFAULT_DRAIN_GRACE_MS, controlPort: 0, advertise: '10.231.0.2' });
    expect(poolKeyPrefix(options.poolId)).toBe('cinnamon-pool:cinnamon-qa');
  });

  it('takes the Redis URL and pool id from the environment when no flag says, the flag winning', () => {
    const { redisUrl: _, ...rest } = required;
    const env = { REDIS_URL: 'redis://:secret@redis.example:6380', CINNAMON_POOL_ID: 'team-a' };
    expect(parseAgentOptions(rest, env, lan)).toMatchObject({ redisUrl: env.REDIS_URL, poolId: 'team-a' });
    expect(parseAgentOptions({ ...required, poolId: 'mine' }, env, lan)).toMatchObject({ redisUrl: required.redisUrl, poolId: 'mine' });
    expect(refusal(() => parseAgentOptions(rest, {}, lan))).toMatch(/redisUrl/);
  });

  it('names every bad field at once', () => {
    const message = refusal(() => parseAgentOptions({ ...required, hostId: '-bad', containers: 0, basePort: 80, runtime: 'kube' as never, advertise: '10.0.0.1:80' }, {}, lan));
    for (const field of ['hostId', 'containers', 'basePort', 'runtime', 'advertise']) expect(message).toMatch(new RegExp(`- ${field}: `));
    expect(refusal(() => parseAgentOptions({ ...required, controlPort: 3002 }, {}, lan))).toMatch(/controlPort: must not be one of the member ports 3001-3002/);
    expect(refusal(() => parseAgentOptions({ ...required, extra: 1 } as never, {}, lan))).toMatch(/unknown option 'extra'/);
    // A pool id the shards' poolId option would refuse must not start an agent nobody can join.
    expect(refusal(() => parseAgentOptions({ ...required, poolId: 'team.a' }, {}, lan))).toMatch(/poolId: must be 1-40 letters, digits, _ -/);
  });

  it('refuses to guess an address on a machine with no non-internal IPv4, saying to pass --advertise', () => {
    expect(refusal(() => defaultAdvertise({ lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }] } as never))).toMatch(/--advertise ADDRESS/);
    expect(parseAgentOptions({ ...required, advertise: 'agent-1.ci.example' }, {}, () => ({}) as never).advertise).toBe('agent-1.ci.example');
  });

  it('names members <hostId>-<i> and <prefix>-<hostId>-<i> on consecutive ports, valid container ids and names at the longest', () => {
    expect(agentMemberSpecs(parseAgentOptions(required, {}, lan))).toEqual([
      { id: 'h1-1', name: 'cinnamon-qa-mcp-h1-1', port: 3001 },
      { id: 'h1-2', name: 'cinnamon-qa-mcp-h1-2', port: 3002 },
    ]);
    const longest = parseAgentOptions({ ...required, hostId: 'h'.repeat(32), prefix: 'p'.repeat(21), containers: 64, basePort: 1024 }, {}, lan);
    for (const spec of agentMemberSpecs(longest)) expect(containerSpecSchema.safeParse(spec).error).toBeUndefined();
  });
});
