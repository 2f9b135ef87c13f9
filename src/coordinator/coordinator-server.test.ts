import { afterEach, describe, expect, it } from 'vitest';
import type { PoolOptionsInput } from '../config/schemas.js';
import { startUnitCoordinator } from '../../test/support/unit-coordinator.js';
import type { LeaseEvent } from '../protocol/coordinator-api.js';
import type { RunningCoordinator } from './coordinator-server.js';
import { PoolClient } from '../protocol/pool-client.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(options: PoolOptionsInput = {}) {
  const unit = await startUnitCoordinator(options);
  cleanups.push(unit.close);
  return { ...unit, client: unit.newClient() };
}

async function post(coordinator: RunningCoordinator, path: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(new URL(path, coordinator.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${coordinator.token}`, 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
}

async function until(condition: () => Promise<boolean> | boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('coordinator auth and validation', () => {
  it('refuses calls without the bearer token (401) and with a wrong one', async () => {
    const { coordinator } = await setup();
    const none = await fetch(new URL('/v1/status', coordinator.url));
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/Bearer/);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
    const wrong = await fetch(new URL('/metrics', coordinator.url), { headers: { authorization: `Bearer ${coordinator.token}x` } });
    expect(wrong.status).toBe(401);
    const wrongClient = new PoolClient({ url: coordinator.url, token: 'nope' });
    await expect(wrongClient.status()).rejects.toMatchObject({ code: 'UNAUTHORIZED', name: 'PoolError' });
    wrongClient.close();
  });

  it('answers a bad body with 400 and a typed error, and changes nothing', async () => {
    const { coordinator, store } = await setup();
    const unknownKey = await post(coordinator, '/v1/leases', JSON.stringify({ testRunId: 't', bogus: 1 }));
    expect(unknownKey.status).toBe(400);
    expect(unknownKey.body.error).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(unknownKey.body.error?.message).toMatch(/bogus/);
    const wrongType = await post(coordinator, '/v1/leases', JSON.stringify({ testRunId: 't', timeoutMs: 'soon' }));
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.error?.message).toMatch(/timeoutMs/);
    const notJson = await post(coordinator, '/v1/leases', '{');
    expect(notJson.body.error).toMatchObject({ code: 'INVALID_ARGUMENT' });
    const badPriority = await post(coordinator, '/v1/leases', JSON.stringify({ testRunId: 't', priority: 'urgent' }));
    expect(badPriority.status).toBe(400);
    expect(badPriority.body.error).toMatchObject({ code: 'INVALID_PRIORITY' });
    expect(badPriority.body.error?.message).toMatch(/'critical', 'high', 'normal', 'low'/);
    const badRenew = await post(coordinator, '/v1/leases/x/renew', JSON.stringify({ token: -1 }));
    expect(badRenew.status).toBe(400);
    expect(await store.listLeases()).toEqual([]);
    expect(await store.listQueue()).toEqual([]);
    expect((await store.getCounters()).allocations).toBe(0);
  });

  it('answers unknown routes with 404 and wrong methods with 405', async () => {
    const { coordinator } = await setup();
    const missing = await post(coordinator, '/v1/nothing', '{}');
    expect(missing.status).toBe(404);
    const method = await fetch(new URL('/v1/leases', coordinator.url), { headers: { authorization: `Bearer ${coordinator.token}` } });
    expect(method.status).toBe(405);
  });
});

describe('coordinator leases over HTTP', () => {
  it('allocates, renews, releases, and rebuilds errors as PoolErrors', async () => {
    const { client, store } = await setup();
    const { allocation, runtime } = await client.allocate({ testRunId: 'a', priority: 'high' });
    expect(runtime).toBe('process');
    expect(allocation.container).toMatchObject({ id: 'container-1', port: 3001, url: 'http://localhost:3001/mcp' });
    const ref = { leaseId: allocation.lease.leaseId, token: allocation.lease.token };
    const renewed = await client.renew(ref);
    expect(renewed.lease.expiresAt).toBeGreaterThanOrEqual(allocation.lease.expiresAt);
    expect(renewed.contended).toBe(false);
    await expect(client.renew({ ...ref, token: ref.token + 1 })).rejects.toMatchObject({ code: 'STALE_TOKEN', data: { httpStatus: 409 } });
    const released = await client.release(ref);
    expect(released.lease.leaseId).toBe(ref.leaseId);
    await expect(client.release(ref)).rejects.toMatchObject({ code: 'ALREADY_RELEASED' });
    await until(async () => (await store.getContainer('container-1')).state === 'Available');
  });

  it('cancels a waiting allocation when its client disconnects', async () => {
    const { client, store } = await setup();
    const holder = await client.allocate({ testRunId: 'holder' });
    const controller = new AbortController();
    const waiting = client.allocate({ testRunId: 'waiter' }, { signal: controller.signal });
    await until(async () => (await store.listQueue()).length === 1);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'ALLOCATION_CANCELLED' });
    await until(async () => (await store.listQueue()).length === 0);
    await client.release(holder.allocation.lease);
    // Nobody may be holding the container: it goes back to Available, not to the departed waiter.
    await until(async () => (await store.getContainer('container-1')).state === 'Available');
    expect((await store.listLeases()).length).toBe(0);
  });

  it('says contended only when a request of equal or higher priority waits (handBackAfterMs 0)', async () => {
    const { client, store } = await setup({ resources: { handBackAfterMs: 0 } });
    const holder = await client.allocate({ testRunId: 'holder', priority: 'normal' });
    const ref = holder.allocation.lease;
    expect((await client.renew(ref)).contended).toBe(false);
    const low = new AbortController();
    void client.allocate({ testRunId: 'low', priority: 'low' }, { signal: low.signal }).catch(() => undefined);
    await until(async () => (await store.listQueue()).length === 1);
    expect(await client.renew(ref)).toMatchObject({ contended: false, waiting: { total: 1, atOrAbove: 0 } });
    const same = new AbortController();
    void client.allocate({ testRunId: 'same', priority: 'normal' }, { signal: same.signal }).catch(() => undefined);
    await until(async () => (await store.listQueue()).length === 2);
    expect(await client.renew(ref)).toMatchObject({ contended: true, waiting: { total: 2, atOrAbove: 1 } });
    same.abort();
    await until(async () => (await store.listQueue()).length === 1);
    const critical = new AbortController();
    void client.allocate({ testRunId: 'critical', priority: 'critical' }, { signal: critical.signal }).catch(() => undefined);
    await until(async () => (await store.listQueue()).length === 2);
    expect((await client.renew(ref)).contended).toBe(true);
    low.abort();
    critical.abort();
    await until(async () => (await store.listQueue()).length === 0);
  });

  it('lets an equal-priority waiter wait up to handBackAfterMs, a higher one not at all (default 30 s)', async () => {
    const { client, store } = await setup();
    const ref = (await client.allocate({ testRunId: 'holder', priority: 'normal' })).allocation.lease;
    const same = new AbortController();
    void client.allocate({ testRunId: 'same', priority: 'normal' }, { signal: same.signal }).catch(() => undefined);
    await until(async () => (await store.listQueue()).length === 1);
    expect(await client.renew(ref)).toMatchObject({ contended: false, waiting: { total: 1, atOrAbove: 1 } });
    const high = new AbortController();
    void client.allocate({ testRunId: 'high', priority: 'high' }, { signal: high.signal }).catch(() => undefined);
    await until(async () => (await store.listQueue()).length === 2);
    expect(await client.renew(ref)).toMatchObject({ contended: true, waiting: { total: 2, atOrAbove: 2 } });
    same.abort();
    high.abort();
    await until(async () => (await store.listQueue()).length === 0);
  });

  it('pushes a revocation to the holder the moment its container dies', async () => {
    const { client, runtime } = await setup();
    const { allocation } = await client.allocate({ testRunId: 'victim' });
    const events: LeaseEvent[] = [];
    const subscription = client.subscribeLeaseEvents(allocation.lease, (e) => events.push(e));
    await subscription.ready;
    const t0 = performance.now();
    runtime.kill('container-1', 'exited with code 137 (killed)');
    await until(() => events.length === 1, 10_000);
    // Pushed, not learnt at the next renewal (every TTL / 2 = 7.5 s with the default 15 s TTL): milliseconds on a
    // quiet machine, a few scheduling delays with both cores busy; 3 s tells the two apart either way.
    expect(performance.now() - t0).toBeLessThan(3_000);
    expect(events[0]).toMatchObject({ type: 'revoked', containerId: 'container-1', leaseId: allocation.lease.leaseId });
    expect((events[0] as { reason: string }).reason).toMatch(/137/);
    await expect(client.renew(allocation.lease)).rejects.toMatchObject({ code: 'LEASE_REVOKED', data: { httpStatus: 410 } });
    subscription.close();
  });

  it('tells a late subscriber how its lease already ended', async () => {
    const { client } = await setup();
    const { allocation } = await client.allocate({ testRunId: 'late' });
    await client.release(allocation.lease);
    const event = await new Promise<LeaseEvent>((resolve) => client.subscribeLeaseEvents(allocation.lease, resolve));
    expect(event).toMatchObject({ type: 'released' });
  });

  it('heartbeat renews at TTL/3 and surfaces contention', async () => {
    // A TTL long enough that a renewal every TTL/3 is never late with both cores busy.
    const { client } = await setup({ lease: { ttlMs: 2_000, sweepIntervalMs: 50 }, resources: { handBackAfterMs: 0 } });
    const { allocation } = await client.allocate({ testRunId: 'beat' });
    const beats: boolean[] = [];
    const heartbeat = client.startHeartbeat(allocation.lease, { onRenewed: (r) => beats.push(r.contended) });
    const waiter = new AbortController();
    let waiterServed = false;
    void client.allocate({ testRunId: 'w' }, { signal: waiter.signal }).then(() => (waiterServed = true), () => undefined);
    // Four renewals span more than a TTL: without them the lease would have expired and the waiter been served.
    await until(() => beats.length >= 4, 15_000);
    expect(waiterServed).toBe(false);
    expect(heartbeat.contended).toBe(true);
    expect(heartbeat.lost).toBeUndefined();
    expect((await heartbeat.renewNow())?.contended).toBe(true);
    heartbeat.stop();
    waiter.abort();
  });
});

describe('long renewals for a worker being debugged', () => {
  it('grants a renewal up to lease.debugTtlMs, tells workers the limit, and refuses more with nothing changed', async () => {
    const { client, coordinator } = await setup({ lease: { ttlMs: 2_000, sweepIntervalMs: 100, debugTtlMs: 60_000 } });
    expect((await client.info()).leaseDebugTtlMs).toBe(60_000);
    const { allocation } = await client.allocate({ testRunId: 'debug' });
    const plain = await client.renew(allocation.lease);
    expect(plain.lease.ttlMs).toBe(2_000);
    const long = await client.renew(allocation.lease, { ttlMs: 60_000 });
    expect(long.lease.ttlMs).toBe(60_000);
    expect(long.lease.expiresAt - plain.lease.expiresAt).toBeGreaterThanOrEqual(58_000);
    await expect(client.renew(allocation.lease, { ttlMs: 60_001 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', data: { httpStatus: 400, limit: 60_000 } });
    const bad = await post(coordinator, `/v1/leases/${allocation.lease.leaseId}/renew`, JSON.stringify({ token: allocation.lease.token, ttlMs: 'long' }));
    expect(bad.status).toBe(400);
    // The refusals changed nothing: the lease still carries the long renewal.
    expect((await client.status()).containers[0]).toMatchObject({ state: 'Allocated' });
    expect((await client.renew(allocation.lease, { ttlMs: 60_000 })).lease.token).toBe(allocation.lease.token);
  });

  it('a heartbeat asked for the debug TTL keeps the lease through a pause longer than the pool TTL', async () => {
    const { client } = await setup({ lease: { ttlMs: 300, sweepIntervalMs: 50, debugTtlMs: 60_000 } });
    const { allocation } = await client.allocate({ testRunId: 'paused' });
    const heartbeat = client.startHeartbeat(allocation.lease);
    heartbeat.requestTtl(60_000);
    expect((await heartbeat.renewNow())?.lease.ttlMs).toBe(60_000);
    // The paused worker: no more beats. Several pool TTLs pass and several sweeps run.
    heartbeat.stop();
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await client.status()).containers[0]).toMatchObject({ state: 'Allocated' });
    await client.release(allocation.lease);
  });
});

describe('coordinator reporting', () => {
  it('serves timeouts, executions, extensions, status, analytics, audit and Prometheus metrics', async () => {
    const { client, coordinator } = await setup({ timeouts: { minHistorySamples: 2, maxExtensions: 1 } });
    for (const d of [100, 200, 300]) await client.recordExecution('spec › a', d);
    const recommendation = await client.recommendTimeout('spec › a');
    expect(recommendation).toMatchObject({ source: 'adaptive', samples: 3 });
    const { allocation } = await client.allocate({ testRunId: 'r' });
    const granted = await client.requestExtension({ testRunId: 'r', justification: 'slow sandbox', requestedMs: 1_000, currentTimeoutMs: 5_000, lease: allocation.lease });
    expect(granted).toMatchObject({ granted: true, timeoutMs: 6_000 });
    const refused = await client.requestExtension({ testRunId: 'r', justification: 'again', requestedMs: 1_000, currentTimeoutMs: 6_000 });
    expect(refused.granted).toBe(false);
    expect(refused.reason).toMatch(/maxExtensions/);
    expect((await client.status()).containers[0]).toMatchObject({ state: 'Allocated', holder: 'r' });
    const text = await (await fetch(new URL('/status', coordinator.url), { headers: { authorization: `Bearer ${coordinator.token}` } })).text();
    expect(text).toMatch(/cinnamon-qa-mcp-1\s+3001\s+Allocated/);
    const metrics = await client.metrics();
    expect(metrics).toMatch(/cinnamon_pool_containers\{state="Allocated"\} 1/);
    expect(metrics).toMatch(/cinnamon_pool_allocations_total\{priority="normal"\} 1/);
    expect(metrics).toMatch(/cinnamon_pool_timeout_extensions_total\{outcome="denied"\} 1/);
    expect(metrics).toMatch(/cinnamon_pool_allocation_wait_seconds_bucket\{le="0.005",priority="normal"\} 1/);
    expect(metrics).toMatch(/cinnamon_pool_queue_size\{priority="critical"\} 0/);
    await client.release(allocation.lease);
    const analytics = await client.analytics();
    expect(analytics.poolMetrics.totalAllocations).toBe(1);
    expect((await client.audit()).map((e) => e.type)).toContain('extension');
  });

  it('after freeze serves the final snapshot and refuses changes', async () => {
    const { client, coordinator, manager } = await setup();
    const snapshot = { status: await manager.getPoolStatus(), analytics: await manager.getSystemAnalytics(), audit: await manager.getAuditLog() };
    await manager.shutdown();
    coordinator.freeze(snapshot);
    await expect(client.allocate({ testRunId: 'late' })).rejects.toMatchObject({ code: 'POOL_SHUT_DOWN', data: { httpStatus: 503 } });
    expect((await client.analytics()).generatedAt).toBe(snapshot.analytics.generatedAt);
    expect((await client.info()).final).toBe(true);
  });

  it('counts failed allocations by code', async () => {
    const { client } = await setup();
    const held = await client.allocate({ testRunId: 'h' });
    await expect(client.allocate({ testRunId: 'late', timeoutMs: 50 })).rejects.toMatchObject({ code: 'ALLOCATION_TIMEOUT', data: { httpStatus: 503 } });
    expect(await client.metrics()).toMatch(/cinnamon_pool_allocation_failures_total\{code="ALLOCATION_TIMEOUT"\} 1/);
    await client.release(held.allocation.lease);
  });
});
