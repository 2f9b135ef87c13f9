import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stopWarmPools } from '../../src/cli/down-command.js';
import { parseContainerPoolOptions } from '../../src/coordinator/container-pool-options.js';
import { PoolRun } from '../../src/coordinator/pool-run.js';
import { readWarmState, warmStatePath, type WarmState } from '../../src/coordinator/warm-pool-state.js';
import { isPoolError } from '../../src/errors/pool-error.js';
import { poolLabelFilter } from '../../src/runtime/docker/docker-labels.js';
import { DEFAULT_SANDBOX_ROOT } from '../../src/runtime/process/sandbox-layout.js';
import { dockerUnavailableReason } from '../support/docker.js';
import { freePorts } from '../support/ports.js';
import { startStatePage, type StatePage } from '../support/warm-state-page.js';

// A warm pool (issue 13, option reuse) on the Docker runtime, end to end with the pool image, real
// @playwright/mcp and Chromium: run 1 leaves its containers running, run 2 takes the same containers over
// (a new guard on its own key, then the cleanup between holders and the gate), a second run meanwhile gets the
// lock error; another configuration recreates them, an idle warm pool stops itself, and `cinnamon-pool down`
// leaves no container or network of the pool.

const unavailable = await dockerUnavailableReason();
const docker = new Docker();
const poolId = `itwarmd-${randomBytes(3).toString('hex')}`;
const env = { ...process.env, CINNAMON_POOL_REUSE: '1' };
let baseDir = '';
let ports: number[] = [];
let page: StatePage | undefined;
const logs: string[] = [];

beforeAll(async () => {
  if (unavailable) return;
  baseDir = await mkdtemp(join(tmpdir(), 'cqa-warmd-'));
  ports = await freePorts(2);
  page = await startStatePage('0.0.0.0', 'host.docker.internal', 'warm-pool-docker-it');
});

afterAll(async () => {
  if (unavailable) return;
  await stopWarmPools({ poolId }).catch(() => undefined);
  for (const c of await docker.listContainers({ all: true, filters: { label: [poolLabelFilter(poolId)] } })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  for (const n of await docker.listNetworks({ filters: { label: [poolLabelFilter(poolId)] } })) await docker.getNetwork(n.Id).remove().catch(() => undefined);
  await page?.close();
  await rm(baseDir, { recursive: true, force: true });
});

function start(extra: { reuseIdleMs?: number } = {}): Promise<PoolRun> {
  const { pool, plugin } = parseContainerPoolOptions(
    {
      ...extra,
      poolId,
      runtime: 'docker',
      reuse: true,
      // A budget for a machine with both cores busy (load 10-30), not a timing check.
      health: { startupTimeoutMs: 120_000 },
      containerSpecs: ports.map((port, i) => ({ id: `container-${i + 1}`, name: `${poolId}-${i + 1}`, port })),
    },
    env,
  );
  return PoolRun.start({ pool, plugin, baseDir, env, log: (line) => logs.push(line) });
}

/** The pool's containers by name → { id, state }, exited ones included. */
async function poolContainers(): Promise<Map<string, { id: string; state: string }>> {
  const list = await docker.listContainers({ all: true, filters: { label: [poolLabelFilter(poolId)] } });
  return new Map(list.map((c) => [c.Names[0]!.replace(/^\//, ''), { id: c.Id, state: c.State }]));
}

async function poolNetworks(): Promise<string[]> {
  return (await docker.listNetworks({ filters: { label: [poolLabelFilter(poolId)] } })).map((n) => n.Name);
}

async function dockerState(): Promise<Extract<WarmState, { runtime: 'docker' }>> {
  const state = await readWarmState(warmStatePath(DEFAULT_SANDBOX_ROOT, poolId));
  if (state === undefined || state === 'unreadable' || state.runtime !== 'docker') throw new Error(`no readable Docker warm state for ${poolId}: ${String(state)}`);
  return state;
}

describe.skipIf(unavailable)('warm pool between runs (reuse, Docker runtime)', () => {
  it('run 1 leaves its containers running, run 2 adopts the same containers (left clean), an idle pool stops, down removes everything', { timeout: 600_000 }, async () => {
    // ---- run 1: cold start, page state left in a member's browser
    const run1 = await start();
    try {
      expect(run1.runtime?.kind).toBe('docker');
      expect(logs.join('\n')).toContain('no warm pool to reuse yet');
      // A second run while the first holds the warm pool: a clear typed error naming the holder, nothing started.
      const second = await start().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isPoolError(second, 'WARM_POOL_BUSY'), String(second)).toBe(true);

      const held = await run1.manager.allocateContainerAdvanced({ testRunId: 'run1-test', priority: 'normal' });
      // The check in run 2 can fail: here, in the same session, the state is there.
      expect(await page!.state(held, '/set')).toContain('cookie=warm=run1;storage=run1');
      await run1.manager.releaseContainer(held.lease);
    } finally {
      await run1.stop();
    }

    // Teardown stopped nothing: both containers run, recorded with the image in the fingerprint.
    const state1 = await dockerState();
    const containers1 = await poolContainers();
    expect(state1.members.map((m) => m.name).sort()).toEqual([`${poolId}-1`, `${poolId}-2`]);
    expect(state1.members.every((m) => containers1.get(m.name)?.id === m.dockerId && containers1.get(m.name)?.state === 'running')).toBe(true);
    expect(state1.parts.runtime).toBe('docker');
    expect(state1.parts.image).toMatch(/^cinnamon-qa\/mcp:/);
    expect(logs.join('\n')).toContain('2 container(s) left running for the next run');
    // Both Available at the end (one cleaned after its holder, one never held): recorded clean.
    expect([...(state1.clean ?? [])].sort()).toEqual(['container-1', 'container-2']);

    // ---- run 2: the same fingerprint, so the same containers are taken over
    logs.length = 0;
    const run2 = await start();
    try {
      // Left clean by run 1, so taken over without a cleanup (the process runtime's test covers the other case).
      await vi.waitFor(() => expect(logs.join('\n')).toContain('2 warm container(s) reused (left clean by the last run: not cleaned again)'), { timeout: 180_000, interval: 200 });
      const containers2 = await poolContainers();
      expect([...containers2.values()].map((c) => c.id).sort()).toEqual(state1.members.map((m) => m.dockerId).sort());
      // Isolation: nothing of run 1's page state reaches run 2, whichever member it gets; each call passes the new
      // guard with this run's credential.
      for (const testRunId of ['run2-a', 'run2-b']) {
        const held = await run2.manager.allocateContainerAdvanced({ testRunId, priority: 'normal' });
        expect(await page!.state(held, '/read')).toContain('cookie=;storage=null');
        await run2.manager.releaseContainer(held.lease);
      }
    } finally {
      await run2.stop();
    }
    expect((await dockerState()).members.map((m) => m.dockerId).sort()).toEqual(state1.members.map((m) => m.dockerId).sort());

    // ---- run 3: another configuration (a short idle time): the containers are removed and made anew, the log
    // names the change; left warm, they stop themselves once nobody connects for that long.
    logs.length = 0;
    const run3 = await start({ reuseIdleMs: 61_000 });
    try {
      expect(logs.join('\n')).toContain('warm pool not reused: its configuration changed (idleMs: 1200000 → 61000)');
      const ids3 = [...(await poolContainers()).values()].map((c) => c.id);
      expect(ids3.some((id) => state1.members.some((m) => m.dockerId === id))).toBe(false);
    } finally {
      await run3.stop();
    }
    // The idle stop ends the server, so the container exits (a budget for a loaded machine: idle 61 s plus the
    // guard's check every 6 s plus the stop).
    await vi.waitFor(async () => expect([...(await poolContainers()).values()].map((c) => c.state)).toEqual(['exited', 'exited']), { timeout: 240_000, interval: 1_000 });

    // ---- down: no container or network of the pool is left, and the state is gone
    const down = await stopWarmPools({ poolId });
    expect(down.busy).toBe(0);
    expect(down.lines.join('\n')).toContain(`stopped warm pool '${poolId}'`);
    expect(down.lines.join('\n')).toContain(`container ${poolId}-1`);
    expect((await poolContainers()).size).toBe(0);
    expect(await poolNetworks()).toEqual([]);
    expect(await readWarmState(warmStatePath(DEFAULT_SANDBOX_ROOT, poolId))).toBeUndefined();
  });
});
