import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAdvertise } from '../../src/agent/agent-options.js';
import { AGENT_API_PATHS, agentErrorBodySchema } from '../../src/protocol/agent-api.js';
import { SANDBOX_MARKER_ENV } from '../../src/runtime/container-runtime.js';
import { credentialHeaders, credentialKeysFromStored, MemberCredentials } from '../../src/runtime/member-credentials.js';
import { listProcesses, readEnvironVariable } from '../../src/runtime/proc-table.js';
import type { NewRequest } from '../../src/store/pool-store.js';
import { RedisHostRegistry } from '../../src/store/redis-host-registry.js';
import { RedisPoolStore } from '../../src/store/redis-store.js';
import { freePortRange } from '../support/ports.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';

/** Starting two Chromium-capable MCP servers through the three-stage gate on a loaded 2-core machine. */
const READY_BUDGET_MS = 180_000;
/** A drain with no holders, a cleanup, a failed start: each well under this even at load 12. */
const STEP_BUDGET_MS = 90_000;
const LEASE_TTL_MS = 60_000;
/** Long, so a drain that waits for a holder is still waiting when the test looks, however loaded the machine. */
const DRAIN_GRACE_MS = 120_000;

const poolId = `agent-it-${process.pid}-${Date.now().toString(36)}`;
const hostId = 'h1';
// The process runtime puts unix sockets under TMPDIR: keep it short.
const tmp = `/tmp/hag${process.pid % 10_000}`;
let redis: TestRedis;
let store: RedisPoolStore;
let registry: RedisHostRegistry;
let agent: ChildProcess | undefined;
let basePort: number;
let advertise: string;

interface Agent {
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr: () => string;
  /** Resolves with the first stdout line. */
  firstLine: Promise<string>;
}

function startAgent(host: string, ports: number, pool = poolId): Agent {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'agent', '--redis-url', redis.url, '--host-id', host, '--containers', '2', '--base-port', String(ports), '--runtime', 'process', '--advertise', advertise, '--pool-id', pool, '--host-lease-ms', '10000', '--drain-grace-ms', String(DRAIN_GRACE_MS)],
    { cwd: process.cwd(), env: { ...process.env, TMPDIR: tmp, REDIS_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout! });
  const firstLine = new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    void exited.then((code) => reject(new Error(`agent exited (${code}) before its ready line:\n${err}`)));
  });
  firstLine.catch(() => undefined);
  return { child, exited, stderr: () => err, firstLine };
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `probe` until it returns a value (no fixed sleeps: each round waits for Redis' answer, then yields). */
async function until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = performance.now() + STEP_BUDGET_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`${what}: not within ${STEP_BUDGET_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function request(id: string): NewRequest {
  const now = Date.now();
  return { requestId: id, testRunId: `run-${id}`, priority: 'normal', requestedAt: now, deadline: now + 60_000, requirements: {}, attempt: 0 };
}

function sandboxProcesses(): number[] {
  return listProcesses()
    .filter((e) => e.state !== 'Z' && readEnvironVariable(e.pid, SANDBOX_MARKER_ENV)?.startsWith(tmp))
    .map((e) => e.pid);
}

beforeAll(async () => {
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  redis = await startTestRedis();
  store = new RedisPoolStore({ redis: redis.url, keyPrefix: `cinnamon-pool:${poolId}`, serverTime: true });
  registry = new RedisHostRegistry(store);
  basePort = await freePortRange(2);
  try {
    advertise = defaultAdvertise(networkInterfaces());
  } catch {
    advertise = '127.0.0.1';
  }
});

afterAll(async () => {
  if (agent && agent.exitCode === null) agent.kill('SIGKILL');
  await store?.close();
  await redis?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

// Each case waits up to READY_BUDGET_MS for a ready line and then a few STEP_BUDGET_MS steps: the project's 120 s
// per test would cut a slow start short at load 30 (seen once), so the cases get room for their own budgets.
describe('cinnamon-pool agent (a host of a shared pool, real Redis, process runtime)', { timeout: READY_BUDGET_MS + 4 * STEP_BUDGET_MS }, () => {
  it('registers healthy members, refuses a second agent for its host id, cleans released members, answers only holders, and drains on SIGTERM', async () => {
    const first = startAgent(hostId, basePort);
    agent = first.child;
    const ready = await within(first.firstLine, READY_BUDGET_MS, 'ready line');
    expect(ready).toMatch(new RegExp(`^cinnamon-pool agent: host h1 \\(epoch \\d+\\) serves 2 healthy members at ${advertise.replace(/\./g, '\\.')}:${basePort}-${basePort + 1} for pool '${poolId}' \\(redis://127\\.0\\.0\\.1:\\d+\\); control http://\\S+$`));

    const [host] = await registry.listHosts();
    expect(host).toMatchObject({ hostId, live: true, draining: false, address: advertise, runtime: 'process', members: ['h1-1', 'h1-2'] });
    expect(ready).toContain(`control ${host!.controlUrl}`);
    const members = await store.listContainers();
    expect(members.map((m) => [m.id, m.state, m.hostId, m.address, m.port])).toEqual([
      ['h1-1', 'Available', hostId, advertise, basePort],
      ['h1-2', 'Available', hostId, advertise, basePort + 1],
    ]);

    // One live agent per host id: a second one fails, naming the host, and starts nothing.
    const second = startAgent(hostId, await freePortRange(2));
    expect(await within(second.exited, STEP_BUDGET_MS, 'second agent')).toBe(1);
    expect(second.stderr()).toMatch(/HOST_TAKEN|Host id h1 is held by a live agent/);
    expect(second.stderr()).toMatch(/another --host-id/);
    expect((await registry.listHosts()).map((h) => h.epoch)).toEqual([host!.epoch]);

    // A lease granted and released through the shared store (as a shard's would be): the agent cleans the member
    // (nothing else here runs cleanup, so Cleaning -> Available is the agent's doing).
    const { grants } = await store.enqueue(request('r1'), Date.now(), LEASE_TTL_MS, 10);
    expect(grants).toHaveLength(1);
    const lease = grants[0]!.lease;
    const released = await store.release(lease.leaseId, lease.token, Date.now());
    expect(released.containerId).toBe(lease.containerId);
    expect((await store.getContainer(lease.containerId)).state).toBe('Cleaning');
    await until(async () => ((await store.getContainer(lease.containerId)).state === 'Available' ? true : undefined), 'member cleaned by the agent');

    // The control endpoint: only the holder of the lease, with its credential.
    const held = (await store.enqueue(request('r2'), Date.now(), LEASE_TTL_MS, 10)).grants[0]!.lease;
    const keys = credentialKeysFromStored(await registry.signingKeys(() => {
      throw new Error('the agent stored the pool keys already');
    }));
    const body = JSON.stringify({ containerId: held.containerId, leaseId: held.leaseId, token: held.token, strategy: 'soft' });
    const post = (headers: Record<string, string>) =>
      fetch(`${host!.controlUrl}${AGENT_API_PATHS.reset}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const none = await post({});
    expect(none.status).toBe(401);
    expect(agentErrorBodySchema.parse(await none.json()).error.code).toBe('UNAUTHORIZED');
    const forged = await post(credentialHeaders(new MemberCredentials().forLease(held.containerId, held.leaseId, held.token)));
    expect(forged.status).toBe(401);
    const holder = await post(credentialHeaders(new MemberCredentials(keys).forLease(held.containerId, held.leaseId, held.token)));
    expect(holder.status).toBe(200);
    expect(await holder.json()).toMatchObject({ containerId: held.containerId, requested: 'soft', success: true });
    await store.release(held.leaseId, held.token, Date.now());
    await until(async () => ((await store.getContainer(held.containerId)).state === 'Available' ? true : undefined), 'member cleaned after the reset');

    // SIGTERM: drains (nothing is leased), leaves the registry, stops its members, exits 0.
    expect(sandboxProcesses().length).toBeGreaterThan(0);
    first.child.kill('SIGTERM');
    expect(await within(first.exited, STEP_BUDGET_MS, 'drain')).toBe(0);
    expect(first.stderr()).toMatch(/draining/);
    expect(await registry.listHosts()).toEqual([]);
    expect(await store.listContainers()).toEqual([]);
    expect(sandboxProcesses()).toEqual([]);
  });

  it('fences itself when its epoch loses the host lease (STALE_EPOCH), cutting the holder, then claims the host again on a new epoch; a drain waits for its holder and grants nothing new', async () => {
    const ports = await freePortRange(2);
    const run = startAgent('h2', ports);
    agent = run.child;
    await within(run.firstLine, READY_BUDGET_MS, 'ready line');
    const before = (await registry.listHosts()).find((h) => h.hostId === 'h2')!;
    const held = (await store.enqueue(request('h2-holder'), Date.now(), LEASE_TTL_MS, 10)).grants.find((g) => g.lease.containerId.startsWith('h2-'))!.lease;
    const keys = credentialKeysFromStored(await registry.signingKeys(() => {
      throw new Error('the agent stored the pool keys already');
    }));
    const member = (await store.getContainer(held.containerId)).port;
    const holderGet = () =>
      fetch(`http://127.0.0.1:${member}/mcp`, { headers: credentialHeaders(new MemberCredentials(keys).forLease(held.containerId, held.leaseId, held.token)) }).then(
        (r) => r.status,
        () => 'refused-connection',
      );
    // Admitted by the guard (the server behind answers a GET without a session with a 4xx of its own, not 401).
    expect(await holderGet()).not.toBe(401);

    // The host lease disappears (as when Redis expired it): the agent's next renewal is refused STALE_EPOCH.
    const admin = redis.connect();
    try {
      await admin.del(`cinnamon-pool:${poolId}:host-lease:h2`);
    } finally {
      admin.disconnect();
    }
    const after = await until(async () => {
      const host = (await registry.listHosts()).find((h) => h.hostId === 'h2');
      const members = (await store.listContainers()).filter((c) => c.hostId === 'h2');
      const serving = /serving again: host h2 epoch/.test(run.stderr());
      return serving && host && host.epoch > before.epoch && host.live && members.length === 2 && members.every((c) => c.state === 'Available') ? host : undefined;
    }, 'serving again on a new epoch');
    expect(after.epoch).toBe(before.epoch + 1);
    expect(run.stderr()).toMatch(/stops serving \(self-fence\)/);
    // The old holder is out: its lease ended when the new epoch reaped the old one, and the guard refuses it.
    expect(await store.getEndedLease(held.leaseId)).toMatchObject({ reason: 'revoked' });
    expect(await holderGet()).toBe(401);

    // Drain with a holder: no new grants on this host, the holder finishes, then the agent leaves.
    const last = (await store.enqueue(request('h2-last'), Date.now(), LEASE_TTL_MS, 10)).grants.find((g) => g.lease.containerId.startsWith('h2-'))!.lease;
    run.child.kill('SIGTERM');
    await until(async () => ((await registry.listHosts()).find((h) => h.hostId === 'h2')?.draining ? true : undefined), 'host marked draining');
    const queued = await store.enqueue(request('h2-after-drain'), Date.now(), LEASE_TTL_MS, 10);
    expect(queued.grants.filter((g) => g.lease.containerId.startsWith('h2-'))).toEqual([]);
    expect(run.child.exitCode).toBeNull(); // still waiting for its holder
    await store.release(last.leaseId, last.token, Date.now());
    expect(await within(run.exited, STEP_BUDGET_MS, 'drain')).toBe(0);
    expect(run.stderr()).not.toMatch(/revoking/);
    expect((await registry.listHosts()).find((h) => h.hostId === 'h2')).toBeUndefined();
    expect(sandboxProcesses()).toEqual([]);
  });

  it('an epoch that fences itself while its members are still starting stops that partial start and claims the host again on a new epoch (it used to exit 1)', async () => {
    const ports = await freePortRange(2);
    const host = 'h3';
    // A pool of its own: a request an earlier case left queued would take this host's members as they serve.
    const pool = `${poolId}-fs`;
    const prefix = `cinnamon-pool:${pool}`;
    const run = startAgent(host, ports, pool);
    agent = run.child;
    const admin = redis.connect();
    let firstEpoch: number;
    try {
      // The moment the claim's members are registered and at least one is still Starting, the host lease goes
      // (as when Redis expired it): atomically, so the check and the delete see the same state. Every later write
      // of that epoch (a member's Starting -> Available, the next renewal) is refused STALE_EPOCH, so the epoch
      // fences before it can serve. Only the agent moves its members out of Starting, and gating a Chromium-capable
      // server takes far longer than one poll, so the poll sees Starting (a starved test process would see every
      // member Available instead, and fail below naming the missed precondition rather than pass).
      const dropLeaseWhileStarting = `
        local raw = redis.call('HGET', KEYS[1], ARGV[1])
        if not raw then return -1 end
        local epoch = cjson.decode(raw).epoch
        local starting, members = 0, 0
        for _, rec in ipairs(redis.call('HVALS', KEYS[2])) do
          local m = cjson.decode(rec)
          if m.hostId == ARGV[1] then
            members = members + 1
            if m.state == 'Starting' then starting = starting + 1 end
          end
        end
        if members == 0 then return -1 end
        if starting == 0 then return -2 end
        redis.call('DEL', KEYS[3])
        return epoch`;
      const outcome = await until(async () => {
        const result = Number(await admin.eval(dropLeaseWhileStarting, 3, `${prefix}:hosts`, `${prefix}:containers`, `${prefix}:host-lease:${host}`, host));
        return result === -1 ? undefined : result;
      }, 'the claim registered its members');
      expect(outcome, 'precondition: a member was still Starting when the host lease was dropped').not.toBe(-2);
      firstEpoch = outcome;
    } finally {
      admin.disconnect();
    }
    const ownStore = new RedisPoolStore({ redis: redis.url, keyPrefix: prefix, serverTime: true });
    const ownRegistry = new RedisHostRegistry(ownStore);
    try {
      // It fences while starting, stops those members and serves on the next epoch.
      const ready = await within(run.firstLine, READY_BUDGET_MS, 'ready line after the fenced start');
      expect(ready, `the agent's log:\n${run.stderr()}`).toContain(`host ${host} (epoch ${firstEpoch + 1}) serves 2 healthy members`);
      expect(run.stderr()).toMatch(new RegExp(`host ${host} epoch ${firstEpoch} stops serving \\(self-fence\\)`));
      expect(run.stderr()).toMatch(new RegExp(`claiming host ${host} again in \\d+ ms: .*epoch ${firstEpoch} fenced itself while its members were starting`));
      expect(run.child.exitCode).toBeNull();
      const listed = (await ownRegistry.listHosts()).find((h) => h.hostId === host)!;
      expect(listed).toMatchObject({ epoch: firstEpoch + 1, live: true });
      const members = (await ownStore.listContainers()).filter((c) => c.hostId === host);
      expect(members.map((m) => [m.id, m.state])).toEqual([
        [`${host}-1`, 'Available'],
        [`${host}-2`, 'Available'],
      ]);

      // SIGTERM: drains and exits 0; nothing of either epoch is left running.
      run.child.kill('SIGTERM');
      expect(await within(run.exited, STEP_BUDGET_MS, 'drain')).toBe(0);
      expect((await ownRegistry.listHosts()).find((h) => h.hostId === host)).toBeUndefined();
      expect(sandboxProcesses()).toEqual([]);
    } finally {
      await ownStore.close();
    }
  });
});
