/**
 * PoolRun.start (what globalSetup runs) opens the pool once its first member passed the gate (issue 13): with the
 * process runtime, real @playwright/mcp servers and the real HealthChecker. The second member is slow by
 * construction: its first gate waits until the test lets it go (a wrapper around the real gate), never by timing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseContainerPoolOptions } from '../../src/coordinator/container-pool-options.js';
import { PoolRun } from '../../src/coordinator/pool-run.js';
import type { HealthCheckOptions, HealthGate, HealthReport } from '../../src/health/health-gate.js';
import type { PoolEventMap } from '../../src/pool/pool-events.js';
import { SANDBOX_MARKER_ENV } from '../../src/runtime/container-runtime.js';
import { probeTcpPort } from '../../src/runtime/port-probe.js';
import { listProcesses, readEnvironVariable } from '../../src/runtime/proc-table.js';
import { DEFAULT_SANDBOX_ROOT, poolDir } from '../../src/runtime/process/sandbox-layout.js';
import { freePortRange } from '../support/ports.js';

/** The real gate, except that the first check of `held` waits until release(): that member is still starting. */
class HeldFirstGate implements HealthGate {
  private released!: () => void;
  private readonly release$ = new Promise<void>((resolve) => (this.released = resolve));
  private first = true;
  /** Resolves when the held member's first check began (it is launched and in its gate). */
  readonly reached: Promise<void>;
  private reachedNow!: () => void;

  constructor(
    private readonly real: HealthGate,
    private readonly held: string,
  ) {
    this.reached = new Promise<void>((resolve) => (this.reachedNow = resolve));
  }

  release(): void {
    this.released();
  }

  async isContainerReady(port: number, containerId?: string, options?: HealthCheckOptions): Promise<HealthReport> {
    if (containerId === this.held && this.first) {
      this.first = false;
      this.reachedNow();
      await this.release$;
    }
    return this.real.isContainerReady(port, containerId, options);
  }
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function startRun(poolId: string, gate: { wrap: (real: HealthGate) => HealthGate }) {
  const basePort = await freePortRange(2);
  const baseDir = await mkdtemp(join(tmpdir(), 'cqa-serve-first-'));
  cleanups.push(() => rm(baseDir, { recursive: true, force: true }));
  const { pool, plugin } = parseContainerPoolOptions({ poolId, containers: 2, basePort, runtime: 'process' });
  const lines: string[] = [];
  const warnings: string[] = [];
  const run = await PoolRun.start({
    pool,
    plugin,
    baseDir,
    log: (line) => lines.push(line),
    logger: { info: () => {}, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) },
    wrapHealth: gate.wrap,
  });
  cleanups.push(() => run.stop());
  return { run, lines, warnings, ports: pool.containerSpecs.map((s) => s.port) };
}

/** Processes of this pool's sandboxes (the MCP servers, their guards and browsers) still alive. */
function processesOf(poolId: string): number[] {
  const root = poolDir(DEFAULT_SANDBOX_ROOT, poolId);
  return listProcesses()
    .filter((e) => e.state !== 'Z' && readEnvironVariable(e.pid, SANDBOX_MARKER_ENV)?.startsWith(root))
    .map((e) => e.pid);
}

async function stateOf(run: PoolRun, id: string): Promise<string | undefined> {
  return (await run.manager.getPoolStatus()).containers.find((c) => c.id === id)?.state;
}

describe('PoolRun.start serves from the first ready member (process runtime)', () => {
  it('returns while the second member is still in its gate; a second member that fails its gate is reported, recovered, and handed out only after it passed one', async () => {
    const poolId = `it-first-${process.pid}`;
    let gate!: HeldFirstGate;
    const { run, lines, warnings } = await startRun(poolId, { wrap: (real) => (gate = new HeldFirstGate(real, 'container-2')) });
    await gate.reached;

    // Start returned with one member gated; the other is still starting and is not handed out.
    expect(lines.find((l) => l.includes('containers ready'))).toMatch(/1 of 2 containers ready in [\d.]+ s \(the rest join as they pass their gate\)/);
    expect(await stateOf(run, 'container-2')).toBe('Starting');
    const trail: string[] = [];
    const note = (what: string) => (e: { containerId: string }) => trail.push(`${what} ${e.containerId}`);
    run.manager.on('containerHealthy', note('healthy'));
    run.manager.on('containerUnhealthy', note('unhealthy'));
    run.manager.on('containerAllocated', (e: PoolEventMap['containerAllocated']) => trail.push(`allocated ${e.lease.containerId}`));
    const first = await run.manager.allocateContainer('t1');
    expect(first.container.id).toBe('container-1');

    // The held member dies before its gate runs: the real gate fails it (the server is not running).
    await run.runtime!.stop('container-2');
    const second = run.manager.allocateContainerAdvanced({ testRunId: 't2', timeoutMs: 110_000 });
    gate.release();
    const granted = await second;

    expect(granted.container.id).toBe('container-2');
    expect(warnings.join('\n')).toMatch(/cinnamon-qa-mcp-2.*failed the health gate at stage '\w+'.*Fix:.*not handed out/s);
    // Order of cause and effect, not of timing: container-2 was unhealthy, then passed a gate, and only then granted.
    const c2 = trail.filter((t) => t.endsWith('container-2'));
    expect(c2.indexOf('unhealthy container-2')).toBeGreaterThanOrEqual(0);
    expect(c2.indexOf('healthy container-2')).toBeGreaterThan(c2.indexOf('unhealthy container-2'));
    expect(c2.indexOf('allocated container-2')).toBeGreaterThan(c2.indexOf('healthy container-2'));
  });

  it('a member that passes its gate after the start joins (one line says so) and is handed out', async () => {
    const poolId = `it-join-${process.pid}`;
    let gate!: HeldFirstGate;
    const { run, lines } = await startRun(poolId, { wrap: (real) => (gate = new HeldFirstGate(real, 'container-2')) });
    await gate.reached;
    expect(await stateOf(run, 'container-2')).toBe('Starting');
    const joined = new Promise<void>((resolve) => run.manager.on('memberJoined', () => resolve()));
    gate.release();
    await joined;
    expect(lines.some((l) => /^cinnamon-qa-mcp-2 joined: 2 of 2 containers ready \([\d.]+ s after the start\)$/.test(l))).toBe(true);
    const [a, b] = await Promise.all([run.manager.allocateContainer('a'), run.manager.allocateContainer('b')]);
    expect(new Set([a.container.id, b.container.id])).toEqual(new Set(['container-1', 'container-2']));
  });

  it('stop while the second member is still in its gate stops it; nothing of the pool is left running', async () => {
    const poolId = `it-stop-${process.pid}`;
    let gate!: HeldFirstGate;
    const { run, ports } = await startRun(poolId, { wrap: (real) => (gate = new HeldFirstGate(real, 'container-2')) });
    await gate.reached; // never released: stop must not wait for it
    expect(await stateOf(run, 'container-2')).toBe('Starting');
    expect(processesOf(poolId).length).toBeGreaterThan(0);
    expect((await probeTcpPort('127.0.0.1', ports[1]!, 1_000)).open).toBe(true); // launched, only its gate is held

    await run.stop();

    expect(processesOf(poolId)).toEqual([]);
    for (const port of ports) expect((await probeTcpPort('127.0.0.1', port, 1_000)).open).toBe(false);
  });
});
