/**
 * Scenario 11 of issue 5 — bad input: unknown priority, negative or NaN timeouts, unknown container id, stale
 * token, double release, corrupt JSON planted in Redis (a container record, a lease, the queue), invalid
 * options. Each is a typed PoolError with the expected code, leaves the state as it was, and the pool goes on
 * serving — directly on the manager and over the coordinator's HTTP API.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePoolOptions } from '../../src/config/pool-config.js';
import { parseContainerPoolOptions } from '../../src/coordinator/container-pool-options.js';
import { PoolClient } from '../../src/protocol/pool-client.js';
import { startCoordinator, type RunningCoordinator } from '../../src/coordinator/coordinator-server.js';
import { withContainerPool } from '../../src/coordinator/with-container-pool.js';
import { isPoolError } from '../../src/errors/pool-error.js';
import type { Allocation, ContainerPoolManager } from '../../src/pool/container-pool-manager.js';
import { MemoryPoolStore } from '../../src/store/memory-store.js';
import type { PoolStore } from '../../src/store/pool-store.js';
import { RedisPoolStore } from '../../src/store/redis-store.js';
import { startTestRedis, uniquePrefix, type TestRedis } from '../support/redis-server.js';
import { snapshotStore, startFakePool, type FakePool } from './support/fake-pool.js';
import { rawRequest } from './support/raw-http.js';
import { reportFault } from './support/report.js';

let redisServer: TestRedis;
let admin: Redis;
const pools: FakePool[] = [];
const coordinators: RunningCoordinator[] = [];
const outcomes: Array<{ what: string; ok: boolean }> = [];

beforeAll(async () => {
  redisServer = await startTestRedis();
  admin = redisServer.connect();
});

afterAll(async () => {
  for (const c of coordinators) await c.close();
  for (const p of pools) await p.manager.shutdown().catch(() => undefined);
  await admin?.quit();
  await redisServer?.stop();
  const failed = outcomes.filter((o) => !o.ok).map((o) => o.what);
  reportFault('bad input', outcomes.length, outcomes.length - failed.length, `typed error, state unchanged, pool still serving${failed.length ? `; FAILED: ${failed.join(', ')}` : ''}`);
});

async function codeOf(work: () => unknown): Promise<string> {
  try {
    await work();
    return 'OK';
  } catch (error) {
    return isPoolError(error) ? error.code : `untyped ${String(error)}`;
  }
}

/** Runs one bad call: it must fail with `code` and leave the store exactly as it was. */
async function refused(store: PoolStore, what: string, code: string, work: () => unknown): Promise<void> {
  const before = await snapshotStore(store, ['holder']);
  const got = await codeOf(work);
  const after = await snapshotStore(store, ['holder']);
  const ok = got === code && JSON.stringify(after) === JSON.stringify(before);
  outcomes.push({ what, ok });
  expect(got, what).toBe(code);
  expect(after, `${what}: state changed`).toEqual(before);
}

async function poolWithHolder(store: PoolStore, label: string) {
  const pool = await startFakePool({ store, containers: 2, label });
  pools.push(pool);
  const held = await pool.manager.allocateContainerAdvanced({ testRunId: 'holder' });
  const gone = await pool.manager.allocateContainerAdvanced({ testRunId: 'gone' });
  await (await pool.manager.releaseContainer({ leaseId: gone.lease.leaseId, token: gone.lease.token })).recycled;
  return { pool, held, gone };
}

function badCalls(manager: ContainerPoolManager, held: Allocation, gone: Allocation) {
  const stale = { leaseId: held.lease.leaseId, token: held.lease.token + 1 };
  return [
    ['unknown priority', 'INVALID_PRIORITY', () => manager.allocateContainerAdvanced({ testRunId: 'x', priority: 'urgent' as never })],
    ['negative timeout', 'INVALID_OPTIONS', () => manager.allocateContainerAdvanced({ testRunId: 'x', timeoutMs: -1 })],
    ['NaN timeout', 'INVALID_OPTIONS', () => manager.allocateContainerAdvanced({ testRunId: 'x', timeoutMs: Number.NaN })],
    ['unknown container id (release)', 'UNKNOWN_CONTAINER', () => manager.releaseContainer('container-99')],
    ['unknown container id (reset)', 'UNKNOWN_CONTAINER', () => manager.resetContainer('container-99', 'soft')],
    ['stale token (renew)', 'STALE_TOKEN', () => manager.renewLease(stale)],
    ['stale token (release)', 'STALE_TOKEN', () => manager.releaseContainer(stale)],
    ['stale token (extension)', 'STALE_TOKEN', () => manager.requestTimeoutExtension('holder', 'x', { requestedMs: 1000, currentTimeoutMs: 5000, lease: stale })],
    ['stale token (reset)', 'STALE_TOKEN', () => manager.resetLeased(stale, 'soft')],
    ['double release', 'ALREADY_RELEASED', () => manager.releaseContainer({ leaseId: gone.lease.leaseId, token: gone.lease.token })],
    ['NaN token', 'INVALID_ARGUMENT', () => manager.renewLease({ leaseId: held.lease.leaseId, token: Number.NaN })],
  ] as const;
}

describe('fault 11: bad input', () => {
  it('directly on the manager (memory and Redis stores): typed errors, nothing changed', async () => {
    for (const [label, store] of [
      ['memory', new MemoryPoolStore()],
      ['redis', new RedisPoolStore({ redis: admin, keyPrefix: uniquePrefix('faults-bad') })],
    ] as const) {
      const { pool, held, gone } = await poolWithHolder(store, `bad-${label}`);
      for (const [what, code, work] of badCalls(pool.manager, held, gone)) await refused(store, `${label}: ${what}`, code, work);
      // Still serving: the holder's real token works.
      await pool.manager.renewLease({ leaseId: held.lease.leaseId, token: held.lease.token });
    }
  });

  it('invalid options: withContainerPool / parsePoolOptions refuse with INVALID_OPTIONS naming each bad path', async () => {
    const cases: Array<[string, () => unknown, RegExp]> = [
      ['containers: 0', () => parsePoolOptions({ containers: 0 }), /containers/],
      ['negative lease ttl', () => parsePoolOptions({ lease: { ttlMs: -5 } }), /ttlMs/],
      ['NaN maxWaitTimeMs', () => parsePoolOptions({ resources: { maxWaitTimeMs: Number.NaN } }), /maxWaitTimeMs/],
      ['unknown key', () => withContainerPool({}, { containerz: 2 } as never), /containerz/],
      ['http redisUrl', () => parseContainerPoolOptions({ redisUrl: 'http://localhost:6379' }), /redisUrl/],
      ['unknown runtime', () => withContainerPool({}, { runtime: 'podman' as never }), /runtime/],
    ];
    for (const [what, work, names] of cases) {
      let error: unknown;
      try {
        work();
      } catch (e) {
        error = e;
      }
      const ok = isPoolError(error, 'INVALID_OPTIONS') && names.test(error.message);
      outcomes.push({ what: `options: ${what}`, ok });
      expect(isPoolError(error) ? error.code : String(error), what).toBe('INVALID_OPTIONS');
      expect((error as Error).message).toMatch(names);
    }
  });

  it('corrupt JSON planted in Redis (container record, lease, queue): CORRUPT_STATE, nothing rewritten, the coordinator survives', async () => {
    const prefix = uniquePrefix('faults-corrupt');
    const store = new RedisPoolStore({ redis: admin, keyPrefix: prefix });
    const { pool, held } = await poolWithHolder(store, 'corrupt');
    const coordinator = await startCoordinator({ manager: pool.manager, runtime: 'process' });
    coordinators.push(coordinator);
    const client = new PoolClient({ url: coordinator.url, token: coordinator.token });
    const keys = store.keys;
    const dumpAll = async () => {
      // The audit trail and the counters record the refused call itself (an allocation failed: that is counted
      // for the analytics); every record of pool state must stay as it was.
      const names = (await admin.keys(`${prefix}:*`)).filter((k) => k !== keys.audit && k !== keys.counters).sort();
      return Promise.all(names.map(async (k) => [k, await admin.dumpBuffer(k)] as const));
    };
    const plants: Array<[string, () => Promise<unknown>, () => Promise<unknown>, () => Promise<unknown>]> = [
      [
        'container record',
        () => admin.hset(keys.containers, 'container-2', '{"id":"container-2",'),
        () => client.allocate({ testRunId: 'victim', timeoutMs: 2_000 }),
        () => pool.manager.getPoolStatus(),
      ],
      ['lease', () => admin.set(keys.lease(held.lease.leaseId), '[not a lease'), () => client.renew({ leaseId: held.lease.leaseId, token: held.lease.token }), () => store.listLeases()],
      [
        'queue',
        async () => {
          await admin.hset(keys.requests, 'planted#0', '{"requestId":');
          await admin.zadd(keys.queue, 3 * 2 ** 32 + 999_999, 'planted#0');
        },
        () => client.status(),
        () => store.listQueue(),
      ],
    ];
    for (const [what, plant, overHttp, direct] of plants) {
      const clean = await dumpAll();
      await plant();
      const planted = await dumpAll();
      const httpCode = await codeOf(overHttp);
      const directCode = await codeOf(direct);
      const now = await dumpAll();
      const unchanged = JSON.stringify(now) === JSON.stringify(planted);
      if (!unchanged) console.warn(`[faults] corrupt ${what}: keys changed: ${now.filter(([k, v]) => JSON.stringify(planted.find(([pk]) => pk === k)?.[1]) !== JSON.stringify(v)).map(([k]) => k).join(', ')}`);
      const ok = httpCode === 'CORRUPT_STATE' && directCode === 'CORRUPT_STATE' && unchanged;
      outcomes.push({ what: `corrupt ${what}`, ok });
      expect(httpCode, `${what} over HTTP`).toBe('CORRUPT_STATE');
      expect(directCode, `${what} on the store`).toBe('CORRUPT_STATE');
      expect(unchanged, `${what}: Redis rewritten`).toBe(true);
      // Put the record back as it was: the pool must carry on from there.
      await admin.del(...(await admin.keys(`${prefix}:*`)).filter((k) => k !== keys.audit && k !== keys.counters));
      for (const [k, v] of clean) if (v) await admin.restore(k, 0, v);
      expect((await client.info()).poolId).toBe(pool.poolId);
    }
    await client.renew({ leaseId: held.lease.leaseId, token: held.lease.token });
    client.close();
  });

  it('over the coordinator HTTP API: typed errors with their HTTP status, nothing changed', async () => {
    const store = new MemoryPoolStore();
    const { pool, held, gone } = await poolWithHolder(store, 'bad-http');
    const coordinator = await startCoordinator({ manager: pool.manager, runtime: 'process' });
    coordinators.push(coordinator);
    const client = new PoolClient({ url: coordinator.url, token: coordinator.token });
    const port = Number(new URL(coordinator.url).port);
    const post = (path: string, body: string) =>
      rawRequest(port, 'POST', path, { host: `127.0.0.1:${port}`, authorization: `Bearer ${coordinator.token}`, 'content-type': 'application/json' }, body);
    const viaRaw = (path: string, body: string) => async () => {
      const res = await post(path, body);
      const code = (JSON.parse(res.body) as { error: { code: string } }).error.code;
      throw Object.assign(new Error(code), { poolCode: code, status: res.status });
    };
    const lease = (id: string) => `/v1/leases/${encodeURIComponent(id)}`;
    const cases: Array<[string, string, () => Promise<unknown>]> = [
      ['unknown priority', 'INVALID_PRIORITY', () => client.allocate({ testRunId: 'x', priority: 'urgent' as never })],
      ['negative timeout', 'INVALID_ARGUMENT', () => client.allocate({ testRunId: 'x', timeoutMs: -1 })],
      ['NaN timeout (JSON null)', 'INVALID_ARGUMENT', () => client.allocate({ testRunId: 'x', timeoutMs: Number.NaN })],
      ['unknown lease id', 'UNKNOWN_LEASE', () => client.release({ leaseId: 'no-such-lease', token: 1 })],
      ['stale token (renew)', 'STALE_TOKEN', () => client.renew({ leaseId: held.lease.leaseId, token: held.lease.token + 1 })],
      ['stale token (reset)', 'STALE_TOKEN', () => client.reset({ leaseId: held.lease.leaseId, token: held.lease.token + 1 }, 'soft')],
      ['double release', 'ALREADY_RELEASED', () => client.release({ leaseId: gone.lease.leaseId, token: gone.lease.token })],
      ['body not JSON', 'INVALID_ARGUMENT', viaRaw('/v1/leases', '{"testRunId":')],
      ['negative token', 'INVALID_ARGUMENT', viaRaw(`${lease(held.lease.leaseId)}/renew`, '{"token":-1}')],
      ['extra field', 'INVALID_ARGUMENT', viaRaw('/v1/leases', '{"testRunId":"x","containerId":"container-1"}')],
      ['unknown reset strategy', 'INVALID_ARGUMENT', viaRaw(`${lease(held.lease.leaseId)}/reset`, `{"token":${held.lease.token},"strategy":"nuke"}`)],
    ];
    for (const [what, code, work] of cases) {
      await refused(store, `http: ${what}`, code, async () => {
        try {
          await work();
        } catch (error) {
          const raw = (error as { poolCode?: string }).poolCode;
          if (raw) throw Object.assign(new (await import('../../src/errors/pool-error.js')).PoolError(raw as never, raw), {});
          throw error;
        }
      });
    }
    // Still serving over HTTP.
    await client.renew({ leaseId: held.lease.leaseId, token: held.lease.token });
    client.close();
  });
});
