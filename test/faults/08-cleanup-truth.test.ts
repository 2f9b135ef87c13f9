import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stopWarmPools } from '../../src/cli/down-command.js';
import { parseContainerPoolOptions } from '../../src/coordinator/container-pool-options.js';
import { PoolRun } from '../../src/coordinator/pool-run.js';
import type { ContainerPoolManager } from '../../src/pool/container-pool-manager.js';
import type { Allocation } from '../../src/pool/lease-allocator.js';
import type { ContainerRuntime } from '../../src/runtime/container-runtime.js';
import { poolLabelFilter } from '../../src/runtime/docker/docker-labels.js';
import { freePorts } from '../support/ports.js';
import { dockerGate, heartbeat, openBrowser, poolImage, resultLine, sh, startRealPool, type RealPool } from './support/real-pool.js';
import { startTestSite, type TestSite } from './support/test-site.js';

/**
 * Scenario 8: what one holder leaves in a container must be gone for the next. A one-container pool, so the
 * next holder gets the same container. The first holder plants, through the MCP tools a test has: a cookie
 * (Set-Cookie), localStorage, sessionStorage, an IndexedDB database, files in MCP_HOME, MCP_TMPDIR and the
 * working directory, a child process of the server, a double-forked one (re-parented to the container's
 * init, so no longer a descendant of the server) and a double-forked one started with an empty environment
 * (so it does not carry the sandbox marker either). The next holder looks from inside the page (browser_evaluate,
 * and the cookies its requests carry, seen by the site) and from outside (exec ps / ls).
 */
const gate = await dockerGate('8 cleanup truth');
/** Set while the defects named above the describe are open; the scenario itself stays as it should pass. */
const KNOWN_DEFECT = false as boolean;
const ROUNDS = 2;
/** Distinctive `sleep` lengths, so the process checks match the planted processes and nothing else. */
const CHILD_SLEEP = 86_401;
const ORPHAN_SLEEP = 86_402;
const EMPTY_ENV_SLEEP = 86_403;

const PLANT_PAGE = `<!doctype html><title>plant</title><h1>plant</h1>`;
const CHECK_PAGE = `<!doctype html><title>check</title><h1>check</h1>`;

// Was skipped on two defects, both fixed: a double-forked process (re-parented to init) survived every cleanup
// (cq_browser now also ends processes carrying this container's sandbox marker, CINNAMON_QA_SANDBOX), and a file
// in MCP_HOME survived (clearCaches now empties MCP_HOME).
describe.skipIf(KNOWN_DEFECT || gate.skip)('faults 8: cleanup truth', () => {
  let pool: RealPool;
  let site: TestSite;
  beforeAll(async () => {
    site = await startTestSite({
      '/plant': () => ({ headers: { 'set-cookie': 'faults_holder=first; Path=/; Max-Age=3600' }, body: PLANT_PAGE }),
      '/check': () => ({ body: CHECK_PAGE }),
    });
    pool = await startRealPool('cleanup', {}, 1);
  });
  afterAll(async () => {
    await pool?.close();
    await site?.close();
  });

  it('after release: no cookies, storage, IndexedDB, processes or files of the last holder', async () => {
    const outcomes: Array<[string, boolean, string]> = [];
    const check = (name: string, ok: boolean, detail: string) => outcomes.push([name, ok, detail]);
    try {
      for (let round = 0; round < ROUNDS; round++) {
        // ---- the first holder plants, then gives the container back (the cleanup between holders runs)
        const first = await pool.manager.allocateContainerAdvanced({ testRunId: `planter-${round}`, priority: 'normal' });
        await plant(pool, site, first);
        await (await pool.manager.releaseContainer({ leaseId: first.lease.leaseId, token: first.lease.token })).recycled;

        // ---- the next holder looks
        const next = await pool.manager.allocateContainerAdvanced({ testRunId: `checker-${round}`, priority: 'normal' });
        try {
          check('same container', next.container.id === first.container.id, next.container.id);
          await look(pool, site, next, check);
        } finally {
          await (await pool.manager.releaseContainer({ leaseId: next.lease.leaseId, token: next.lease.token })).recycled;
        }
      }
    } finally {
      for (const [name, ok, detail] of outcomes) console.info(`[faults] 8 ${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
      const passed = outcomes.filter(([, ok]) => ok).length;
      resultLine('8 cleanup truth', outcomes.length, passed, `rounds=${ROUNDS} checks=cookie(site,page),localStorage,sessionStorage,IndexedDB,processes(child,double-forked,empty-env),files(home,tmp,workdir)`);
    }
    expect(outcomes.filter(([, ok]) => !ok)).toEqual([]);
  });

  // Issue 13: with `reuse: true` a member outlives the run and the next run's first holder gets it. Run 1 ends
  // while its holder still holds the lease (no release, as when a run is stopped mid-test); run 2 takes the
  // container over (cleanup between holders, then the gate), and its first holder must find nothing either.
  it('with reuse: a run ends while its holder holds the lease; the next run takes the container over and its first holder finds nothing', async () => {
    const outcomes: Array<[string, boolean, string]> = [];
    const check = (name: string, ok: boolean, detail: string) => outcomes.push([name, ok, detail]);
    const image = await poolImage();
    const docker = new Docker();
    const poolId = `faults-warm-${randomBytes(3).toString('hex')}`;
    const [port] = (await freePorts(1)) as [number];
    const baseDir = await mkdtemp(join(tmpdir(), 'cqa-f8w-'));
    const env = { ...process.env, CINNAMON_POOL_REUSE: '1' };
    const logs: string[] = [];
    const containerIds = async () => (await docker.listContainers({ all: true, filters: { label: [poolLabelFilter(poolId)] } })).map((c) => c.Id);
    const start = () => {
      const { pool: config, plugin } = parseContainerPoolOptions(
        // A start budget for a machine with both cores busy, not a timing check.
        { poolId, runtime: 'docker', reuse: true, dockerImage: image, health: { startupTimeoutMs: 120_000 }, containerSpecs: [{ id: 'container-1', name: `${poolId}-1`, port }] },
        env,
      );
      return PoolRun.start({ pool: config, plugin, baseDir, env, log: (line) => logs.push(line) });
    };
    try {
      const run1 = await start();
      try {
        const first = await run1.manager.allocateContainerAdvanced({ testRunId: 'planter-warm', priority: 'normal' });
        await plant({ manager: run1.manager, runtime: run1.runtime! }, site, first);
      } finally {
        await run1.stop();
      }
      expect(logs.join('\n')).toContain('1 container(s) left running for the next run');
      const kept = await containerIds();
      expect(kept).toHaveLength(1);
      // Held at the end, so not recorded clean: run 2 must clean it when taking it over (checked by its log line).

      logs.length = 0;
      const run2 = await start();
      try {
        await vi.waitFor(() => expect(logs.join('\n')).toMatch(/1 warm container\(s\) reused \(cleaned in/), { timeout: 180_000, interval: 200 });
        check('the same Docker container, taken over', JSON.stringify(await containerIds()) === JSON.stringify(kept), JSON.stringify(await containerIds()));
        const next = await run2.manager.allocateContainerAdvanced({ testRunId: 'checker-warm', priority: 'normal' });
        try {
          await look({ manager: run2.manager, runtime: run2.runtime! }, site, next, check);
        } finally {
          await (await run2.manager.releaseContainer({ leaseId: next.lease.leaseId, token: next.lease.token })).recycled;
        }
      } finally {
        await run2.stop();
      }
    } finally {
      for (const [name, ok, detail] of outcomes) console.info(`[faults] 8 warm ${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
      resultLine('8 cleanup truth, warm pool', outcomes.length, outcomes.filter(([, ok]) => ok).length, 'reuse=true, run 1 stopped with the lease held, run 2 takes over');
      await stopWarmPools({ poolId }).catch(() => undefined);
      await rm(baseDir, { recursive: true, force: true });
    }
    expect(outcomes.filter(([, ok]) => !ok)).toEqual([]);
    // `cinnamon-pool down` left nothing of the pool.
    expect(await containerIds()).toEqual([]);
    // Two pool starts, each with a Docker start or take-over and a gate, on a machine that may be loaded.
  }, 600_000);
});

/** What planting and looking need of a pool: its manager (leases) and a way into its containers. */
type PoolView = { manager: ContainerPoolManager; runtime: ContainerRuntime };
type Check = (name: string, ok: boolean, detail: string) => void;

/**
 * The holder of `first` plants, through the MCP tools a test has: a cookie, localStorage, sessionStorage, an
 * IndexedDB database, files in MCP_HOME, MCP_TMPDIR and the working directory, a child process of the server, a
 * double-forked one and a double-forked one with an empty environment; checked from outside to be there.
 */
async function plant(pool: PoolView, site: TestSite, first: Allocation): Promise<void> {
  const beat = heartbeat(pool.manager, first.lease);
  const cid = first.container.id;
  const browser = await openBrowser(first.container.url, first.credential, 'faults-planter');
  try {
    expect((await browser.navigate(site.url('/plant'))).isError).toBe(false);
    const planted = await browser.evaluate(`async () => {
      localStorage.setItem('faults', 'first'); sessionStorage.setItem('faults', 'first');
      await new Promise((resolve, reject) => {
        const open = indexedDB.open('faults-db', 1);
        open.onupgradeneeded = () => open.result.createObjectStore('s');
        open.onsuccess = () => { const tx = open.result.transaction('s', 'readwrite'); tx.objectStore('s').put('first', 'k'); tx.oncomplete = () => { open.result.close(); resolve(); }; tx.onerror = reject; };
        open.onerror = reject;
      });
      return JSON.stringify({ cookie: document.cookie, ls: localStorage.length, ss: sessionStorage.length, idb: (await indexedDB.databases()).length });
    }`);
    expect(pageState(planted.text)).toEqual({ cookie: 'faults_holder=first', ls: 1, ss: 1, idb: 1 });
    // Files and processes from the server process itself (what browser_run_code_unsafe reaches).
    const run = await browser.call('browser_run_code_unsafe', {
      code: `async (page) => {
        const p = this.constructor.constructor('return process')();
        const req = p.mainModule.require;
        const fs = req('fs'); const cp = req('child_process');
        for (const dir of [p.env.MCP_HOME, p.env.MCP_TMPDIR, p.cwd()]) fs.writeFileSync(dir + '/holder-file.txt', 'first');
        cp.spawn('sleep', ['${CHILD_SLEEP}'], { stdio: 'ignore' }).unref();
        // sh backgrounds sleep and exits: sleep is re-parented to the container's init.
        cp.spawn('sh', ['-c', 'sleep ${ORPHAN_SLEEP} >/dev/null 2>&1 &'], { stdio: 'ignore' }).unref();
        cp.spawn('/bin/sh', ['-c', '/bin/sleep ${EMPTY_ENV_SLEEP} >/dev/null 2>&1 &'], { stdio: 'ignore', env: {} }).unref();
        return 'planted';
      }`,
    });
    expect(run.text).toContain('planted');
    const before = await sh(pool, cid, `sleep 0.3; ps -e -o ppid=,args= | grep -E 'sleep (${CHILD_SLEEP}|${ORPHAN_SLEEP}|${EMPTY_ENV_SLEEP})' | grep -v grep; ls "$MCP_HOME/holder-file.txt" "$MCP_TMPDIR/holder-file.txt" "$MCP_WORKDIR/holder-file.txt"`);
    expect(before.stdout).toContain(`sleep ${ORPHAN_SLEEP}`);
    expect(before.stdout).toContain(`sleep ${EMPTY_ENV_SLEEP}`);
    expect(before.stdout.match(/holder-file\.txt/g)?.length).toBe(3);
  } finally {
    await browser.close();
    beat.stop();
  }
}

/** The holder of `next` looks, from inside the page and from outside (exec ps / ls): nothing of the planter's. */
async function look(pool: PoolView, site: TestSite, next: Allocation, check: Check): Promise<void> {
  const cid = next.container.id;
  const hold = heartbeat(pool.manager, next.lease);
  const checker = await openBrowser(next.container.url, next.credential, 'faults-checker');
  try {
    const seenBefore = site.cookiesSeen.length;
    expect((await checker.navigate(site.url('/check'))).isError).toBe(false);
    const sent = site.cookiesSeen.slice(seenBefore).filter((c) => c.path === '/check');
    check('no cookie sent to the site', sent.length > 0 && sent.every((c) => c.cookie === ''), JSON.stringify(sent));
    const seen = await checker.evaluate(
      'async () => JSON.stringify({ cookie: document.cookie, ls: localStorage.length, ss: sessionStorage.length, idb: (await indexedDB.databases()).map((d) => d.name) })',
    );
    const state = pageState(seen.text) as { cookie?: string; ls?: number; ss?: number; idb?: string[] };
    check('no cookie in the page', state.cookie === '', seen.text.slice(0, 120));
    check('no localStorage', state.ls === 0, String(state.ls));
    check('no sessionStorage', state.ss === 0, String(state.ss));
    check('no IndexedDB', Array.isArray(state.idb) && state.idb.length === 0, JSON.stringify(state.idb));
    const ps = await sh(pool, cid, `ps -e -o pid=,ppid=,args= | grep -E 'sleep (${CHILD_SLEEP}|${ORPHAN_SLEEP}|${EMPTY_ENV_SLEEP})' | grep -v grep || true`);
    check('no process of the last holder (child)', !ps.stdout.includes(`sleep ${CHILD_SLEEP}`), ps.stdout.trim());
    check('no process of the last holder (double-forked)', !ps.stdout.includes(`sleep ${ORPHAN_SLEEP}`), ps.stdout.trim());
    check('no process of the last holder (double-forked, empty environment)', !ps.stdout.includes(`sleep ${EMPTY_ENV_SLEEP}`), ps.stdout.trim());
    const ls = await sh(pool, cid, 'for d in "$MCP_HOME" "$MCP_TMPDIR" "$MCP_WORKDIR"; do [ -e "$d/holder-file.txt" ] && echo "LEFT $d/holder-file.txt"; done; true');
    check('no file of the last holder', !ls.stdout.includes('LEFT'), ls.stdout.trim());
  } finally {
    await checker.close();
    hold.stop();
  }
}

/** The JSON object a browser_evaluate returned: the tool prints it as a JSON string literal under "### Result". */
function pageState(text: string): Record<string, unknown> {
  const literal = text.match(/^"\{.*\}"$/m)?.[0];
  return literal ? (JSON.parse(JSON.parse(literal) as string) as Record<string, unknown>) : {};
}
