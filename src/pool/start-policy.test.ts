import { describe, expect, it } from 'vitest';
import { FakeClock, flushMicrotasks } from '../clock/fake-clock.js';
import { parsePoolOptions } from '../config/pool-config.js';
import type { PoolOptionsInput } from '../config/schemas.js';
import type { HealthReport } from '../health/health-gate.js';
import { MemberCredentials } from '../runtime/member-credentials.js';
import { MemoryPoolStore } from '../store/memory-store.js';
import { FakeCleaner, FakeFence, FakeHealthGate, FakeResetter, FakeRuntime } from '../../test/support/fakes.js';
import { ContainerPoolManager } from './container-pool-manager.js';
import type { PoolEventMap } from './pool-events.js';
import { everyMemberLost, startVerdict } from './start-policy.js';

describe('startVerdict', () => {
  it("'first' serves once one member passed its gate and every member was launched", () => {
    expect(startVerdict({ total: 2, launched: 0, ready: 0, failed: 0 }, 'first')).toBe('wait');
    expect(startVerdict({ total: 2, launched: 2, ready: 0, failed: 0 }, 'first')).toBe('wait');
    expect(startVerdict({ total: 2, launched: 1, ready: 1, failed: 0 }, 'first')).toBe('wait');
    expect(startVerdict({ total: 2, launched: 2, ready: 1, failed: 0 }, 'first')).toBe('serve');
    expect(startVerdict({ total: 1, launched: 1, ready: 1, failed: 0 }, 'first')).toBe('serve');
  });

  it('a member failing before the pool opened fails the start once every member settled (either rule)', () => {
    for (const rule of ['first', 'all'] as const) {
      expect(startVerdict({ total: 2, launched: 1, ready: 0, failed: 1 }, rule)).toBe('wait');
      expect(startVerdict({ total: 2, launched: 2, ready: 1, failed: 1 }, rule)).toBe('fail');
      expect(startVerdict({ total: 2, launched: 0, ready: 0, failed: 2 }, rule)).toBe('fail');
      expect(startVerdict({ total: 1, launched: 1, ready: 0, failed: 1 }, rule)).toBe('fail');
    }
  });

  it("'all' serves only once every member passed its gate", () => {
    expect(startVerdict({ total: 2, launched: 2, ready: 1, failed: 0 }, 'all')).toBe('wait');
    expect(startVerdict({ total: 2, launched: 2, ready: 2, failed: 0 }, 'all')).toBe('serve');
  });

  it('everyMemberLost: only when each member is quarantined', () => {
    expect(everyMemberLost(['a', 'b'], new Set(['a']))).toBe(false);
    expect(everyMemberLost(['a', 'b'], new Set(['b', 'a']))).toBe(true);
    expect(everyMemberLost([], new Set())).toBe(false);
  });
});

/** A gate whose checks of chosen members wait until the test lets them go: a member that is slow by construction. */
class HeldGate extends FakeHealthGate {
  private readonly held = new Map<string, { release: () => void; promise: Promise<void> }>();
  hold(containerId: string): void {
    let release!: () => void;
    const promise = new Promise<void>((resolve) => (release = resolve));
    this.held.set(containerId, { release, promise });
  }
  release(containerId: string): void {
    const h = this.held.get(containerId);
    this.held.delete(containerId);
    h?.release();
  }
  override async isContainerReady(port: number, containerId?: string): Promise<HealthReport> {
    const h = containerId === undefined ? undefined : this.held.get(containerId);
    if (h) await h.promise;
    return super.isContainerReady(port, containerId);
  }
}

function setup(options: PoolOptionsInput = {}) {
  const clock = new FakeClock();
  const store = new MemoryPoolStore();
  const runtime = new FakeRuntime();
  const health = new HeldGate(runtime);
  const fence = new FakeFence([]);
  const config = parsePoolOptions(options);
  const manager = new ContainerPoolManager({
    config,
    store,
    runtime,
    health,
    cleaner: new FakeCleaner(),
    resetter: new FakeResetter(),
    clock,
    credentials: new MemberCredentials(),
    fence: fence.fence,
    runId: 'test',
  });
  const joined: Array<PoolEventMap['memberJoined']> = [];
  manager.on('memberJoined', (e) => joined.push(e));
  const unhealthy: Array<PoolEventMap['containerUnhealthy']> = [];
  manager.on('containerUnhealthy', (e) => unhealthy.push(e));
  const stateOf = async (id: string) => (await store.getContainer(id)).state;
  return { clock, store, runtime, health, manager, joined, unhealthy, stateOf, config };
}

/** Lets recovery run its attempts (each retry waits healthCheckIntervalMs on the fake clock). */
async function runRecoveries(clock: FakeClock, intervalMs: number, rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await flushMicrotasks(50);
    await clock.advance(intervalMs);
  }
  await flushMicrotasks(50);
}

describe("ContainerPoolManager.initialize({ serveFrom: 'first' })", () => {
  it('opens with the first member while the second is still in its gate; the second joins when it passes and is handed out only then', async () => {
    const { manager, health, joined, stateOf } = setup({ containers: 2 });
    health.hold('container-2');
    expect(await manager.initialize({ serveFrom: 'first' })).toBe(1);
    expect(await stateOf('container-2')).toBe('Starting');

    const first = await manager.allocateContainer('t1');
    expect(first.container.id).toBe('container-1');
    let second: string | undefined;
    const waiting = manager.allocateContainer('t2').then((a) => (second = a.container.id));
    await flushMicrotasks(50);
    expect(second).toBeUndefined(); // the starting member is not handed out

    health.release('container-2');
    await waiting;
    expect(second).toBe('container-2');
    expect(joined).toMatchObject([{ containerId: 'container-2', name: 'cinnamon-qa-mcp-2', ready: 2, total: 2 }]);
    await manager.shutdown();
  });

  it('a member that fails its gate after the pool opened is reported, never handed out, recovered, and quarantined when recovery keeps failing', async () => {
    const { manager, health, unhealthy, stateOf, clock, config } = setup({ containers: 2 });
    health.hold('container-2');
    await manager.initialize({ serveFrom: 'first' });
    const quarantined: string[] = [];
    manager.on('containerQuarantined', (e) => quarantined.push(e.containerId));
    health.notReady.set('container-2', 'mcp');
    health.release('container-2');
    await flushMicrotasks(50);
    expect(unhealthy[0]).toMatchObject({ containerId: 'container-2', cause: 'start-failed', reason: expect.stringMatching(/cinnamon-qa-mcp-2.*stage 'mcp'.*Fix:/s) });

    // Every lease while it fails and recovers: container-1 only.
    const holders: string[] = [];
    for (let i = 0; i < 4; i++) {
      const a = await manager.allocateContainer(`t${i}`);
      holders.push(a.container.id);
      await (await manager.releaseContainer({ leaseId: a.lease.leaseId, token: a.lease.token })).recycled;
      await runRecoveries(clock, config.health.healthCheckIntervalMs, 1);
    }
    await runRecoveries(clock, config.health.healthCheckIntervalMs, 4);
    expect(holders).toEqual(['container-1', 'container-1', 'container-1', 'container-1']);
    expect(quarantined).toEqual(['container-2']);
    expect(await stateOf('container-2')).toBe('Unhealthy');
    // One member left: the pool still serves.
    expect((await manager.allocateContainer('after')).container.id).toBe('container-1');
    await manager.shutdown();
  });

  it('a member that fails before the pool opened fails the start as before (every container named), although another passed: nothing running', async () => {
    const { manager, health, runtime } = setup({ containers: 2 });
    health.hold('container-1');
    health.notReady.set('container-2', 'tcp');
    const started = manager.initialize({ serveFrom: 'first' }).then(() => undefined, (e: unknown) => e);
    await flushMicrotasks(50);
    health.release('container-1'); // passes, but container-2 had already failed
    const error = await started;
    expect(error).toMatchObject({ code: 'HEALTH_GATE_FAILED', data: { containerId: 'container-2', failedStage: 'tcp' } });
    expect((error as Error).message).toMatch(/cinnamon-qa-mcp-2.*stage 'tcp'.*Fix:/s);
    expect(runtime.running.size).toBe(0);
  });

  it('a member the runtime cannot start fails the start even when the other passed its gate first (a set-up error, never recovered later)', async () => {
    const { manager, runtime } = setup({ containers: 2 });
    runtime.failStart.add('container-2');
    const error = await manager.initialize({ serveFrom: 'first' }).then(() => undefined, (e: unknown) => e);
    expect((error as Error).message).toMatch(/cannot start container-2/);
    expect(runtime.running.size).toBe(0);
  });

  it('every member failing its gate fails the start with every container named; nothing is left running', async () => {
    const { manager, health, runtime } = setup({ containers: 2 });
    health.notReady.set('container-1', 'mcp');
    health.notReady.set('container-2', 'tcp');
    const error = await manager.initialize({ serveFrom: 'first' }).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'HEALTH_GATE_FAILED' });
    expect((error as Error).message).toMatch(/2 containers failed to start.*cinnamon-qa-mcp-1.*stage 'mcp'.*cinnamon-qa-mcp-2.*stage 'tcp'/s);
    expect(runtime.running.size).toBe(0);
    await expect(manager.allocateContainer('t')).rejects.toMatchObject({ code: 'POOL_SHUT_DOWN' });
  });

  it('one member whose gate fails fails the start as before (same error: container, stage, fix); nothing running', async () => {
    const { manager, health, runtime } = setup({ containers: 1 });
    health.notReady.set('container-1', 'mcp');
    const error = await manager.initialize({ serveFrom: 'first' }).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'HEALTH_GATE_FAILED', data: { containerId: 'container-1', failedStage: 'mcp' } });
    expect((error as Error).message).toMatch(/cinnamon-qa-mcp-1.*stage 'mcp'.*Fix:/s);
    expect(runtime.running.size).toBe(0);
  });

  it('shutdown while a member is still in its gate stops it and does not wait for the gate', async () => {
    const { manager, health, runtime, stateOf } = setup({ containers: 2 });
    health.hold('container-2'); // never released: shutdown must not wait for it
    await manager.initialize({ serveFrom: 'first' });
    expect(runtime.running.has('container-2')).toBe(true);
    await manager.shutdown();
    expect(runtime.running.size).toBe(0);
    expect(runtime.calls).toContain('stop container-2');
    expect(runtime.closed).toBe(true);
    expect(await stateOf('container-2')).toBe('Stopped');
  });

  it('when every member ends quarantined, waiting requests fail at once with a clear error, and so do new ones', async () => {
    const { manager, health, runtime, clock, config } = setup({ containers: 2 });
    health.hold('container-2');
    await manager.initialize({ serveFrom: 'first' });
    const holder = await manager.allocateContainer('holder');
    const waiter = manager.allocateContainerAdvanced({ testRunId: 'waiter', timeoutMs: 600_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // Both members fail for good: the second's gate, and the first dies under its holder and never comes back.
    health.notReady.set('container-2', 'mcp');
    health.notReady.set('container-1', 'mcp');
    health.release('container-2');
    runtime.kill('container-1');
    await runRecoveries(clock, config.health.healthCheckIntervalMs, 8);
    const error = await waiter;
    expect(error).toMatchObject({ code: 'HEALTH_GATE_FAILED', data: { quarantined: ['container-1', 'container-2'] } });
    expect((error as Error).message).toMatch(/Every container of the pool failed.*no test can get one/s);
    await expect(manager.allocateContainer('late')).rejects.toMatchObject({ code: 'HEALTH_GATE_FAILED' });
    expect(holder.container.id).toBe('container-1');
    await manager.shutdown();
  });
});
