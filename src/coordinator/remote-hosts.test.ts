import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { parsePoolOptions } from '../config/pool-config.js';
import { isPoolError, type PoolError } from '../errors/pool-error.js';
import type { PoolHostWiring } from '../pool/pool-host.js';
import { SILENT_LOGGER } from '../pool/pool-events.js';
import { credentialDecision, newCredentialKeys } from '../runtime/mcp-guard.js';
import { storedFromCredentialKeys } from '../runtime/member-credentials.js';
import type { HostListing, HostRegistry, ReapResult, StoredSigningKeys } from '../store/host-registry.js';
import { MemoryPoolStore } from '../store/memory-store.js';
import type { Lease } from '../store/pool-store.js';
import { RemoteHosts } from './remote-hosts.js';

const KEYS = newCredentialKeys();

function host(hostId: string, members: string[], extra: Partial<HostListing> = {}): HostListing {
  return {
    hostId,
    epoch: 1,
    address: hostId === 'h1' ? '10.231.0.2' : '10.231.0.3',
    controlUrl: `http://${hostId}.test:7001`,
    runtime: 'process',
    members,
    claimedAt: 0,
    expiresAt: 1,
    draining: false,
    live: true,
    ...extra,
  };
}

/** A registry over fixed hosts: only what RemoteHosts calls does something. */
function registry(hosts: HostListing[], keys: StoredSigningKeys | null, reap: ReapResult = { hosts: [], revoked: [], removedMembers: [] }) {
  const generated: string[] = [];
  const fake: Partial<HostRegistry> = {
    listHosts: async () => hosts,
    reapExpired: async () => reap,
    signingKeys: async (generate) => {
      if (keys) return keys;
      generated.push('asked to generate');
      return generate();
    },
  };
  return { registry: fake as HostRegistry, generated };
}

/** Member records as an agent registers them: with its host id and address (the memory store keeps neither). */
class AgentRegisteredStore extends MemoryPoolStore {
  constructor(private readonly hosts: HostListing[]) {
    super();
  }
  override async getContainer(id: string) {
    const record = await super.getContainer(id);
    const h = this.hosts.find((x) => x.members.includes(id) && x.hostId !== 'local');
    return h ? { ...record, hostId: h.hostId, address: h.address } : record;
  }
}

async function setup(
  hosts: HostListing[],
  keys: StoredSigningKeys | null = storedFromCredentialKeys(KEYS),
  options: { reap?: ReapResult; fetch?: typeof fetch } = {},
) {
  const store = new AgentRegisteredStore(hosts);
  const clock = new FakeClock();
  const config = parsePoolOptions({ poolId: 'team-a' });
  const wiring = { config, store, clock, logger: SILENT_LOGGER } as unknown as PoolHostWiring;
  const fake = registry(hosts, keys, options.reap);
  const remote = new RemoteHosts({ wiring, registry: fake.registry, where: 'redis://redis.test:6379/', ...(options.fetch ? { fetch: options.fetch } : {}) });
  const specs = hosts.flatMap((h) => h.members.map((id, i) => ({ id, name: `${h.hostId}-mcp-${i + 1}`, port: 3001 + i, memoryMB: 2048, cpuPercent: 100 })));
  await store.registerContainers(specs, clock.now());
  return { store, clock, remote, generated: fake.generated };
}

function leaseOn(containerId: string, token = 7): Lease {
  return { leaseId: `lease-${token}`, containerId, token, requestId: 'r#0', testRunId: 't', priority: 'normal', requestedAt: 0, grantedAt: 0, expiresAt: 1, ttlMs: 1 };
}

async function refusal(promise: Promise<unknown>): Promise<PoolError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!isPoolError(error)) throw new Error(`expected a PoolError, got ${String(error)}`);
  return error;
}

describe('RemoteHosts', () => {
  it('start counts the members of live, serving hosts only', async () => {
    const { remote } = await setup([host('h1', ['h1-1', 'h1-2']), host('h2', ['h2-1'], { draining: true }), host('h3', ['h3-1'], { live: false })]);
    expect(await remote.start()).toBe(2);
    expect(remote.hosts.map((h) => h.hostId)).toEqual(['h1']);
  });

  it('NO_LIVE_HOST when no host serves the pool, naming the pool, the Redis and the agent command', async () => {
    const { remote } = await setup([host('h1', ['h1-1'], { live: false })]);
    const error = await refusal(remote.start());
    expect(error.code).toBe('NO_LIVE_HOST');
    expect(error.message).toMatch(/^No host agent serves pool 'team-a' at redis:\/\/redis\.test:6379\/ .*npx cinnamon-pool agent --redis-url … --host-id <name> --containers 2 --base-port 3001 --runtime docker/);
  });

  it('never generates the pool keys: hosts without keys are NO_LIVE_HOST too', async () => {
    const { remote, generated } = await setup([host('h1', ['h1-1'])], null);
    const error = await refusal(remote.start());
    expect(generated).toEqual(['asked to generate']);
    expect(error.code).toBe('NO_LIVE_HOST');
    expect(error.message).toMatch(/no signing keys/);
  });

  it("endpoints come from the member's record; lease credentials are the pool's, admitted by the member's guard", async () => {
    const { remote } = await setup([host('h1', ['h1-1']), host('h2', ['h2-1'])]);
    await remote.start();
    const endpoint = await remote.endpoint('h2-1');
    expect(endpoint.url).toBe('http://10.231.0.3:3001/mcp');
    expect(await remote.endpoint('h2-1')).toBe(endpoint);
    const lease = leaseOn('h2-1');
    const decision = credentialDecision(KEYS.publicKey, 'h2-1', 1, `Bearer ${remote.leaseCredential(lease)}`);
    expect(decision).toMatchObject({ admit: true });
    const other = credentialDecision(KEYS.publicKey, 'h1-1', 1, `Bearer ${remote.leaseCredential(lease)}`);
    expect(other).toMatchObject({ admit: false });
  });

  it("takes the member's place from the lease just granted (Lease.member) without reading the store", async () => {
    const { remote, store } = await setup([host('h1', ['h1-1'])]);
    await remote.start();
    let reads = 0;
    const getContainer = store.getContainer.bind(store);
    store.getContainer = (id) => (reads++, getContainer(id));
    const lease = { ...leaseOn('h1-1'), member: { hostId: 'h1', name: 'h1-mcp-1', address: '10.231.0.9', port: 3005 } };
    const endpoint = await remote.endpoint('h1-1', lease);
    expect(endpoint).toEqual({ id: 'h1-1', name: 'h1-mcp-1', port: 3005, url: 'http://10.231.0.9:3005/mcp' });
    expect(reads).toBe(0);
    // A lease of another member, or one without a place (granted by an earlier version), reads the record.
    expect((await remote.endpoint('h1-1', leaseOn('h1-1'))).url).toBe('http://10.231.0.2:3001/mcp');
    expect(reads).toBe(1);
  });

  it('a member without an address (not registered by an agent) is refused with the fix', async () => {
    const { remote } = await setup([host('local', ['container-1'])]);
    expect((await refusal(remote.endpoint('container-1'))).message).toMatch(/no host agent registered it .*own redisKeyPrefix or poolId/);
  });

  it("a holder's reset goes to the member's agent with the lease credential; the agent's refusal comes back as its PoolError", async () => {
    const calls: Array<{ url: string; auth: string | null; body: unknown }> = [];
    let answer: Response = new Response(JSON.stringify({ containerId: 'h1-1', requested: 'soft', applied: 'soft', success: true, durationMs: 5, attempts: [] }), { status: 200 });
    const fakeFetch = (async (url: URL, init: RequestInit) => {
      calls.push({ url: String(url), auth: new Headers(init.headers).get('authorization'), body: JSON.parse(String(init.body)) });
      return answer;
    }) as unknown as typeof fetch;
    const keyed = await setup([host('h1', ['h1-1'])], storedFromCredentialKeys(KEYS), { fetch: fakeFetch });
    await keyed.remote.start();
    const lease = leaseOn('h1-1', 9);
    const result = await keyed.remote.resetLeased(lease, 'soft', 'worker-1');
    expect(result.success).toBe(true);
    expect(calls).toEqual([
      {
        url: 'http://h1.test:7001/v1/reset',
        auth: `Bearer ${keyed.remote.leaseCredential(lease)}`,
        body: { containerId: 'h1-1', leaseId: 'lease-9', token: 9, strategy: 'soft', holder: 'worker-1' },
      },
    ]);
    answer = new Response(JSON.stringify({ error: { code: 'STALE_TOKEN', message: 'token 9 does not hold lease-9', data: {} } }), { status: 409 });
    const error = await refusal(keyed.remote.resetLeased(lease, 'soft'));
    expect(error).toMatchObject({ code: 'STALE_TOKEN', message: 'token 9 does not hold lease-9', data: { hostId: 'h1', httpStatus: 409 } });
    answer = new Response('<html>proxy</html>', { status: 502 });
    expect((await refusal(keyed.remote.resetLeased(lease, 'soft'))).message).toMatch(/answered \/v1\/reset with 502 and no agent API body/);
  });

  it('refuses idle resets and stops nothing', async () => {
    const { remote } = await setup([host('h1', ['h1-1'])]);
    const error = await refusal(remote.resetIdle('h1-1'));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(/on their host: the agent does/);
    const errors: unknown[] = [];
    await remote.stopAll(errors);
    expect(errors).toEqual([]);
    expect(remote.isBusy()).toBe(false);
  });

  it("reapLost tells the holders of a reaped host's leases why", async () => {
    const lease = leaseOn('h2-1');
    const { remote } = await setup([host('h1', ['h1-1']), host('h2', ['h2-1'])], null, { reap: { hosts: ['h2'], revoked: [lease], removedMembers: ['h2-1'] } });
    await remote.start().catch(() => undefined);
    expect(await remote.reapLost()).toEqual([{ lease, reason: 'host-lost: the agent of h2 stopped renewing its host lease; its members left the pool' }]);
  });
});
