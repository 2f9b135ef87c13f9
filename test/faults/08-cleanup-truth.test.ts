import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerGate, heartbeat, openBrowser, resultLine, sh, startRealPool, type RealPool } from './support/real-pool.js';
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
        // ---- the first holder plants
        const first = await pool.manager.allocateContainerAdvanced({ testRunId: `planter-${round}`, priority: 'normal' });
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
        await (await pool.manager.releaseContainer({ leaseId: first.lease.leaseId, token: first.lease.token })).recycled;

        // ---- the next holder looks
        const next = await pool.manager.allocateContainerAdvanced({ testRunId: `checker-${round}`, priority: 'normal' });
        const hold = heartbeat(pool.manager, next.lease);
        const checker = await openBrowser(next.container.url, next.credential, 'faults-checker');
        try {
          check('same container', next.container.id === cid, next.container.id);
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
});

/** The JSON object a browser_evaluate returned: the tool prints it as a JSON string literal under "### Result". */
function pageState(text: string): Record<string, unknown> {
  const literal = text.match(/^"\{.*\}"$/m)?.[0];
  return literal ? (JSON.parse(JSON.parse(literal) as string) as Record<string, unknown>) : {};
}
