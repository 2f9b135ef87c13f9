import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stopWarmPools } from '../../src/cli/down-command.js';
import { parseContainerPoolOptions } from '../../src/coordinator/container-pool-options.js';
import { PoolRun } from '../../src/coordinator/pool-run.js';
import { readWarmState, warmLockPath, warmStatePath, type WarmState } from '../../src/coordinator/warm-pool-state.js';
import { isPoolError } from '../../src/errors/pool-error.js';
import { listProcesses, readEnvironVariable } from '../../src/runtime/proc-table.js';
import { isAlive } from '../../src/runtime/process/run-state-file.js';
import { DEFAULT_SANDBOX_ROOT, poolDir } from '../../src/runtime/process/sandbox-layout.js';
import { spawn } from 'node:child_process';
import { SystemClock } from '../../src/clock/clock.js';
import { newCredentialKeys } from '../../src/runtime/mcp-guard.js';
import { startGuardProcess } from '../../src/runtime/process/guard-process.js';
import { identify } from '../../src/runtime/process/run-state-file.js';
import { freePorts } from '../support/ports.js';
import { startStatePage, type StatePage } from '../support/warm-state-page.js';

// A warm pool (issue 13, option reuse) on the process runtime, end to end with real @playwright/mcp and Chromium:
// run 1 leaves its members running, run 2 takes the same processes over, cleaned; a second run meanwhile gets
// the lock error; `cinnamon-pool down` leaves nothing running.

const poolId = `itwarm-${randomBytes(3).toString('hex')}`;
const env = { ...process.env, CINNAMON_POOL_REUSE: '1' };
let baseDir = '';
let ports: number[] = [];
let page: StatePage | undefined;
const logs: string[] = [];

beforeAll(async () => {
  baseDir = await mkdtemp(join(tmpdir(), 'cqa-warm-'));
  ports = await freePorts(2);
  page = await startStatePage('127.0.0.1', '127.0.0.1', 'warm-pool-it');
});

afterAll(async () => {
  await stopWarmPools({ poolId }).catch(() => undefined);
  await page?.close();
  await rm(baseDir, { recursive: true, force: true });
});

function start(extra: { reuseIdleMs?: number } = {}): Promise<PoolRun> {
  const { pool, plugin } = parseContainerPoolOptions(
    {
      ...extra,
      poolId,
      runtime: 'process',
      reuse: true,
      containerSpecs: ports.map((port, i) => ({ id: `container-${i + 1}`, name: `${poolId}-${i + 1}`, port })),
    },
    env,
  );
  return PoolRun.start({ pool, plugin, baseDir, env, log: (line) => logs.push(line) });
}

async function serverPid(run: PoolRun, id: string): Promise<number> {
  const { stdout } = await run.runtime!.exec(id, ['sh', '-c', 'echo $MCP_SERVER_PID']);
  return Number(stdout.trim());
}

/** Processes of this pool's sandboxes (servers, browsers, guards) still running. */
function poolProcesses(): number[] {
  const prefix = poolDir(DEFAULT_SANDBOX_ROOT, poolId);
  return listProcesses()
    .filter((p) => p.state !== 'Z')
    .filter((p) => [readEnvironVariable(p.pid, 'CINNAMON_QA_SANDBOX'), readEnvironVariable(p.pid, 'CINNAMON_QA_GUARD')].some((m) => m?.startsWith(prefix)))
    .map((p) => p.pid);
}

/** Whether the file a run 1 holder left in the member's home is there. */
async function planted(run: PoolRun, id: string): Promise<boolean> {
  const { stdout } = await run.runtime!.exec(id, ['sh', '-c', 'test -e "$MCP_HOME/planted" && echo yes || echo no']);
  return stdout.trim() === 'yes';
}

async function warmState(): Promise<Extract<WarmState, { runtime: 'process' }>> {
  const state = await readWarmState(warmStatePath(DEFAULT_SANDBOX_ROOT, poolId));
  if (state === undefined || state === 'unreadable' || state.runtime !== 'process') throw new Error(`no readable process warm state for ${poolId}: ${String(state)}`);
  return state;
}

describe('warm pool between runs (reuse, process runtime)', () => {
  it('run 1 leaves its members running, run 2 adopts the same processes cleaned, down stops everything', async () => {
    // ---- run 1: cold start, page state left in member 1's browser
    const run1 = await start();
    let pids1: number[];
    let leftClean = '';
    try {
      expect(logs.join('\n')).toContain('no warm pool to reuse yet');
      pids1 = [await serverPid(run1, 'container-1'), await serverPid(run1, 'container-2')];

      // A second run while the first holds the warm pool: a clear typed error naming the holder, nothing started.
      const second = await start().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isPoolError(second, 'WARM_POOL_BUSY'), String(second)).toBe(true);
      expect((second as Error).message).toContain(`pid ${process.pid}`);
      expect(pids1.every((pid) => process.kill(pid, 0))).toBe(true);

      // Both members held; each gets page state and a file in its home (the exec stands in for a download).
      const held = [
        await run1.manager.allocateContainerAdvanced({ testRunId: 'run1-a', priority: 'normal' }),
        await run1.manager.allocateContainerAdvanced({ testRunId: 'run1-b', priority: 'normal' }),
      ];
      for (const h of held) {
        // The check below can fail: here, in the same session, the state is there.
        expect(await page!.state(h, '/set')).toContain('cookie=warm=run1;storage=run1');
        await run1.runtime!.exec(h.container.id, ['sh', '-c', 'echo run1 > "$MCP_HOME/planted"']);
        expect(await planted(run1, h.container.id)).toBe(true);
      }
      // One is released (cleaned: Available at the end), the other still held when the run stops.
      await run1.manager.releaseContainer(held[0]!.lease);
      await vi.waitFor(async () => expect((await run1.manager.getPoolStatus()).containers.find((c) => c.id === held[0]!.container.id)?.state).toBe('Available'), { timeout: 60_000, interval: 100 });
      leftClean = held[0]!.container.id;
    } finally {
      await run1.stop();
    }

    // Teardown stopped nothing: the same servers run, recorded with their guards, and the lock is released.
    const state1 = await warmState();
    expect(state1.members.map((m) => m.server.pid).sort()).toEqual([...pids1].sort());
    expect(state1.members.every((m) => isAlive(m.server) && isAlive(m.guard))).toBe(true);
    expect((await stat(warmStatePath(DEFAULT_SANDBOX_ROOT, poolId))).mode & 0o777).toBe(0o600);
    await expect(stat(warmLockPath(DEFAULT_SANDBOX_ROOT, poolId))).rejects.toThrow();
    expect(logs.join('\n')).toContain('2 container(s) left running for the next run');
    // Only the member released and cleaned before the end is recorded clean; the one held at the end is not.
    expect(state1.clean).toEqual([leftClean]);

    // ---- run 2: the same fingerprint, so the same processes are taken over and cleaned
    logs.length = 0;
    const run2 = await start();
    try {
      // The pool serves from its first ready member; the line comes once both were taken over (a budget for a
      // loaded machine, not a timing check).
      await vi.waitFor(() => expect(logs.join('\n')).toMatch(/2 warm container\(s\) reused \(1 left clean by the last run, 1 cleaned in \d+\.\d s\)/), { timeout: 90_000, interval: 100 });
      // The member held at run 1's end was cleaned when taken over; the other was cleaned at its release.
      for (const id of ['container-1', 'container-2']) expect(await planted(run2, id), id).toBe(false);
      expect([await serverPid(run2, 'container-1'), await serverPid(run2, 'container-2')].sort()).toEqual([...pids1].sort());
      // The guards are new (this run's key); the old ones are gone.
      expect(state1.members.every((m) => !isAlive(m.guard))).toBe(true);

      // Isolation: nothing of run 1's page state reaches run 2, whichever member it gets.
      for (const testRunId of ['run2-a', 'run2-b']) {
        const held = await run2.manager.allocateContainerAdvanced({ testRunId, priority: 'normal' });
        const seen = await page!.state(held, '/read');
        expect(seen).toContain('cookie=;storage=null');
        await run2.manager.releaseContainer(held.lease);
      }
    } finally {
      await run2.stop();
    }
    const state2 = await warmState();
    expect(state2.members.map((m) => m.server.pid).sort()).toEqual([...pids1].sort());
    // Both released and cleaned in run 2: the next run takes both over without cleaning them again.
    expect([...(state2.clean ?? [])].sort()).toEqual(['container-1', 'container-2']);
    logs.length = 0;
    const run2b = await start();
    try {
      await vi.waitFor(() => expect(logs.join('\n')).toContain('2 warm container(s) reused (left clean by the last run: not cleaned again)'), { timeout: 90_000, interval: 100 });
      const held = await run2b.manager.allocateContainerAdvanced({ testRunId: 'run2b', priority: 'normal' });
      expect(await page!.state(held, '/read')).toContain('cookie=;storage=null');
      await run2b.manager.releaseContainer(held.lease);
    } finally {
      await run2b.stop();
    }

    // ---- run 3: another configuration (idle time): the warm members are ended and started anew, and the log says why
    logs.length = 0;
    const run3 = await start({ reuseIdleMs: 120_000 });
    try {
      expect(logs.join('\n')).toContain('warm pool not reused: its configuration changed (idleMs: 1200000 → 120000)');
      const pids3 = [await serverPid(run3, 'container-1'), await serverPid(run3, 'container-2')];
      expect(pids3.some((pid) => pids1.includes(pid))).toBe(false);
      expect(state2.members.some((m) => isAlive(m.server))).toBe(false);
    } finally {
      await run3.stop();
    }

    // ---- down: nothing of the pool runs any more, and the state is gone
    const down = await stopWarmPools({ poolId });
    expect(down.busy).toBe(0);
    expect(down.lines.join('\n')).toContain(`stopped warm pool '${poolId}'`);
    expect(poolProcesses()).toEqual([]);
    expect(await readWarmState(warmStatePath(DEFAULT_SANDBOX_ROOT, poolId))).toBeUndefined();
    await expect(stat(poolDir(DEFAULT_SANDBOX_ROOT, poolId))).rejects.toThrow(/ENOENT/);
    // A second down has nothing to stop and says so.
    expect((await stopWarmPools({ poolId })).lines.join('\n')).toContain('nothing to stop');
  });

  it("a run that crashes (SIGKILL) holding the warm pool: the next run takes its lock over and reaps its members", async () => {
    // The crashing run in a process of its own: start the pool with reuse, say its members' pids, wait to be killed.
    const script = `
      const { parseContainerPoolOptions } = await import(${JSON.stringify(join(process.cwd(), 'src/coordinator/container-pool-options.ts'))});
      const { PoolRun } = await import(${JSON.stringify(join(process.cwd(), 'src/coordinator/pool-run.ts'))});
      const { pool, plugin } = parseContainerPoolOptions(JSON.parse(process.env.WARM_IT_OPTIONS), process.env);
      const run = await PoolRun.start({ pool, plugin, baseDir: process.env.WARM_IT_DIR, log: () => {} });
      const pids = [];
      for (const id of ['container-1', 'container-2']) pids.push((await run.runtime.exec(id, ['sh', '-c', 'echo $MCP_SERVER_PID'])).stdout.trim());
      process.stdout.write('PIDS ' + pids.join(',') + '\\n');
      setInterval(() => {}, 1000);
    `;
    const options = { poolId, runtime: 'process', reuse: true, containerSpecs: ports.map((port, i) => ({ id: `container-${i + 1}`, name: `${poolId}-${i + 1}`, port })) };
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...env, WARM_IT_OPTIONS: JSON.stringify(options), WARM_IT_DIR: baseDir },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const crashedPids = await new Promise<number[]>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /PIDS (\d+),(\d+)/.exec(out);
        if (match) resolve([Number(match[1]), Number(match[2])]);
      });
      child.once('exit', (code) => reject(new Error(`the crashing run exited (${code}) before starting: ${out}`)));
    });
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    // Its members outlive it (detached, their own guards): only a later run, down or the idle stop ends them.
    expect(crashedPids.every((pid) => process.kill(pid, 0))).toBe(true);

    logs.length = 0;
    const next = await start();
    try {
      const text = logs.join('\n');
      expect(text).toContain('took the lock over from a run that ended without releasing it');
      // The crashed run wrote no state (it never reached its teardown): its members are leftovers, reaped.
      expect(text).toContain('no warm pool to reuse yet');
      const pids = [await serverPid(next, 'container-1'), await serverPid(next, 'container-2')];
      expect(pids.some((pid) => crashedPids.includes(pid))).toBe(false);
      expect(crashedPids.filter((pid) => isAlive(identify(pid) ?? { pid, startTime: -1 }))).toEqual([]);
    } finally {
      await next.stop();
    }
    await stopWarmPools({ poolId });
    expect(poolProcesses()).toEqual([]);
  });

  it('a warm guard nobody connects to ends its server (the whole group) and itself after the idle time', async () => {
    // Stands in for a server and its browser: a process group of its own.
    const server = spawn('sh', ['-c', 'sleep 600 & sleep 600; wait'], { detached: true, stdio: 'ignore' });
    server.unref();
    const serverIdentity = identify(server.pid!)!;
    const [port, upstreamPort] = await freePorts(2);
    const guard = await startGuardProcess({
      containerId: 'container-1',
      port: port!,
      upstreamPort: upstreamPort!,
      host: '127.0.0.1',
      key: newCredentialKeys().publicKey,
      allowedHosts: [],
      sandboxDir: baseDir,
      logPath: join(baseDir, 'guard.log'),
      idleMs: 1_000,
      idlePgid: server.pid!,
      clock: new SystemClock(),
    });
    try {
      expect(isAlive(guard.identity)).toBe(true);
      // Waits for the idle stop (1 s idle, checked every 100 ms); the budget only bounds a broken guard.
      await vi.waitFor(() => expect(isAlive(serverIdentity) || isAlive(guard.identity)).toBe(false), { timeout: 60_000, interval: 200 });
      expect(listProcesses().filter((p) => p.pgid === server.pid && p.state !== 'Z')).toEqual([]);
    } finally {
      await guard.close();
      try {
        process.kill(-server.pid!, 'SIGKILL');
      } catch {
        // already gone, as it should be
      }
    }
  });
});
