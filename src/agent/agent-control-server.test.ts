import { afterEach, describe, expect, it } from 'vitest';
import { PoolError } from '../errors/pool-error.js';
import { AGENT_API_PATHS, agentErrorBodySchema } from '../protocol/agent-api.js';
import { credentialHeaders, MemberCredentials } from '../runtime/member-credentials.js';
import type { Lease } from '../store/pool-store.js';
import { startAgentControlServer, type AgentControlServer, type AgentControlTarget } from './agent-control-server.js';

const credentials = new MemberCredentials();
const lease = { leaseId: 'lease-1', containerId: 'h1-1', token: 7 } as Lease;
let server: AgentControlServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function target(calls: string[]): AgentControlTarget {
  return {
    publicKey: credentials.keyOf('h1-1'),
    members: new Set(['h1-1', 'h1-2']),
    getLease: async (id) => {
      if (id !== lease.leaseId) throw new PoolError('UNKNOWN_LEASE', `no lease ${id}`);
      return lease;
    },
    resetLeased: async (ref, strategy) => (calls.push(`reset ${ref.leaseId} ${ref.token} ${strategy}`), { containerId: 'h1-1', requested: strategy, applied: strategy, success: true, durationMs: 1, attempts: [] }),
    readLeasedTrace: async (ref, name) => (calls.push(`trace ${ref.leaseId} ${name}`), [{ name: `${name}.trace`, data: Buffer.from([0, 1, 2, 255]) }]),
  };
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`http://127.0.0.1:${server!.port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as unknown };
}

describe('agent control server (src/protocol/agent-api.ts)', () => {
  const reset = { containerId: 'h1-1', leaseId: 'lease-1', token: 7, strategy: 'soft' };

  it('resets and reads traces for the holder of the lease, refusing everyone else before anything runs', async () => {
    const calls: string[] = [];
    let current: AgentControlTarget | undefined = target(calls);
    server = await startAgentControlServer({ host: '127.0.0.1', port: 0, advertise: '10.0.0.9', hostId: 'h1', target: () => current });
    expect(server.url).toBe(`http://10.0.0.9:${server.port}`);
    const holder = credentialHeaders(credentials.forLease('h1-1', 'lease-1', 7));

    const refusals = [
      await post(AGENT_API_PATHS.reset, reset),
      await post(AGENT_API_PATHS.reset, reset, { authorization: 'Bearer cq1.x.y' }),
      await post(AGENT_API_PATHS.reset, reset, credentialHeaders(new MemberCredentials().forLease('h1-1', 'lease-1', 7))),
      await post(AGENT_API_PATHS.reset, reset, credentialHeaders(credentials.forPool('h1-1'))),
      await post(AGENT_API_PATHS.reset, reset, credentialHeaders(credentials.forLease('h1-1', 'lease-1', 6))),
      await post(AGENT_API_PATHS.reset, reset, credentialHeaders(credentials.forLease('h1-2', 'lease-1', 7))),
    ];
    for (const r of refusals) {
      expect(r.status).toBe(401);
      expect(agentErrorBodySchema.parse(r.body).error.code).toBe('UNAUTHORIZED');
    }
    // A genuine credential for a lease the store no longer has: the store's answer.
    const gone = await post(AGENT_API_PATHS.reset, { ...reset, leaseId: 'lease-0' }, credentialHeaders(credentials.forLease('h1-1', 'lease-0', 7)));
    expect([gone.status, agentErrorBodySchema.parse(gone.body).error.code]).toEqual([404, 'UNKNOWN_LEASE']);
    expect((await post(AGENT_API_PATHS.reset, { ...reset, strategy: 'nuke' }, holder)).status).toBe(400);
    expect(calls).toEqual([]);

    const ok = await post(AGENT_API_PATHS.reset, reset, holder);
    expect(ok).toMatchObject({ status: 200, body: { containerId: 'h1-1', requested: 'soft', success: true } });
    const trace = await post(AGENT_API_PATHS.trace, { containerId: 'h1-1', leaseId: 'lease-1', token: 7, traceName: 'trace-1', budgetMs: 1000 }, holder);
    expect(trace).toEqual({ status: 200, body: { files: [{ name: 'trace-1.trace', base64: Buffer.from([0, 1, 2, 255]).toString('base64') }] } });
    expect(calls).toEqual(['reset lease-1 7 soft', 'trace lease-1 trace-1']);

    // Fenced: nothing is served.
    current = undefined;
    const fenced = await post(AGENT_API_PATHS.reset, reset, holder);
    expect([fenced.status, agentErrorBodySchema.parse(fenced.body).error.code]).toEqual([503, 'POOL_NOT_INITIALIZED']);
    expect(calls).toHaveLength(2);
  });
});
