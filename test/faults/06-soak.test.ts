import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Allocation } from '../../src/pool/container-pool-manager.js';
import { allAvailable, dockerGate, heartbeat, openBrowser, resultLine, sh, startRealPool, until, type Browser, type RealPool } from './support/real-pool.js';
import { startTestSite, type TestSite } from './support/test-site.js';

/**
 * Scenario 6: soak. Allocate / soft-reset cycles on a 2-container Docker pool, with real browser work in the
 * loop: every cycle allocates; every BROWSE_EVERY-th cycle opens an MCP session and navigates a test-site page;
 * cycles go reset, reset, release, release, ... (consecutive cycles land on alternate containers, so each
 * container sees both kinds): a reset cycle soft-resets the container in place through the lease
 * (`resetLeased(lease, 'soft')`: the member's guard ends every MCP session on the server and keeps the browser
 * running, issue 13) and, when a session was open, checks that session is over (its next call fails) and
 * navigates in a new one, as the fixture does after a reset (a fresh context in the kept browser); a release
 * cycle only releases. Every cycle ends with a release, so the pool's cleanup runs every time (and ends the
 * browser: the next holder's first call launches one, which is where "browser already in use" would show).
 *
 * Pass criteria, checked after the last cycle once both containers are back in the pool:
 * - 0 zombie processes in each container (`ps -eo stat`; a zombie counts if it is still there 1 s later, so a
 *   child that exited the instant ps looked and is reaped right after does not count);
 * - container memory bounded: each container's memory (runtime.stats, inactive page cache excluded as
 *   `docker stats` does) at most CONTAINER_GROWTH_MB above its value after the warm-up (one browser launched,
 *   used and closed in each container). The cold figure, before any session, is printed too: the server's
 *   first session and browser launch grow its heap by ≈ 7 MB once, which is not a leak. The breakdown printed
 *   with it (cgroup anon / page cache / tmpfs, the server's RSS, the size of the holder's directories) shows
 *   where any growth is: measured here, all of it is the MCP server's RSS, ≈ +12 MB over the first 100 cycles
 *   and ≈ +18 MB over 200 (slowing down, as a V8 heap settling does);
 * - the test process bounded: heap used after a forced GC at most HEAP_GROWTH_MB above its warm-up value (RSS
 *   at most RSS_GROWTH_MB above when no GC can be forced);
 * - no error text anywhere (MCP tool results, thrown MCP errors, reset and cleanup errors, background errors)
 *   containing "already in use"; and every cycle passed (navigations answered, soft resets applied as soft, the
 *   reset session ended, containers back to Available after each release).
 *
 * Default cycle count: measured on the 2-core machine this suite runs on, a cycle costs ≈ 0.52-0.64 s on
 * average (≈ 0.3 s for a cycle without a browser: allocation, the in-place soft reset, the release's cleanup
 * overlapping the next cycle on the other container; ≈ 1.6-1.9 s for a browse cycle, most of it Chromium's
 * launch and MCP's settle time). DEFAULT_CYCLES = 1,000 (the count) takes ≈ 9-10 minutes; for a
 * quicker local run set FAULTS_SOAK_CYCLES (300 ≈ 3.5 minutes; the test's timeout follows the count).
 */
const gate = await dockerGate('6 soak');

/** The count; see the comment above for the cost (FAULTS_SOAK_CYCLES=300 for a 3-minute run). */
const DEFAULT_CYCLES = 1_000;
const CYCLES = Number(process.env.FAULTS_SOAK_CYCLES ?? DEFAULT_CYCLES);
/** Every K-th cycle drives a real browser (5 against the period of 4 above: browse cycles hit both kinds on both containers). */
const BROWSE_EVERY = 5;
const CONTAINER_GROWTH_MB = 50;
const HEAP_GROWTH_MB = 20;
const RSS_GROWTH_MB = 60;
/**
 * A race seen here, counted rather than failed: right after the release's cleanup (which ends the browser), a
 * new session's first MCP call can fail with this text, most likely because the cleanup returns once no browser
 * process is left while @playwright/mcp learns of the disconnect asynchronously, so the call still reaches the
 * browser that was just ended. The session's next call launches a fresh browser. Seen about once per 100-300
 * cycles (until issue 13 also after a soft reset, which ended the browser then). Each occurrence is printed and
 * counted in the result line (staleBrowser=N), and the retry must succeed; a second failure fails the cycle.
 */
const STALE_BROWSER = /Target page, context or browser has been closed/;
/** @defaultValue 120000 ms: the warm-up's navigation, which launches each container's first browser. */
const WARM_UP_NAVIGATE_MS = 120_000;
/** A run stops early once this many cycles failed: a broken pool would only repeat the same failure. */
const MAX_FAILED_CYCLES = 10;

if (!Number.isInteger(CYCLES) || CYCLES < 2) throw new Error(`FAULTS_SOAK_CYCLES must be an integer ≥ 2, got ${process.env.FAULTS_SOAK_CYCLES}`);

/** A GC the test can force: global.gc when node runs with --expose-gc, otherwise exposed at run time. */
function forcedGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

const MB = 1024 * 1024;
const mb = (bytes: number) => Math.round((bytes / MB) * 10) / 10;

describe.skipIf(gate.skip)('faults 6: soak', () => {
  let pool: RealPool;
  let site: TestSite;
  beforeAll(async () => {
    site = await startTestSite({
      '/soak': (req) => {
        const n = new URL(req.url ?? '/', 'http://x').searchParams.get('n') ?? '?';
        return { body: `<!doctype html><title>soak ${n}</title><h1>soak page ${n}</h1><p>${'lorem ipsum '.repeat(200)}</p>` };
      },
    });
    pool = await startRealPool('soak');
  });
  afterAll(async () => {
    await pool?.close();
    await site?.close();
  });

  async function zombies(containerId: string): Promise<string[]> {
    const list = async () => {
      const r = await sh(pool, containerId, 'ps -eo pid=,ppid=,stat=,comm=');
      if (r.exitCode !== 0) throw new Error(`ps in ${containerId} exited ${r.exitCode}: ${r.stderr}`);
      return r.stdout
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f.length >= 3 && f[2]!.startsWith('Z'))
        .map((f) => f.join(' '));
    };
    const first = await list();
    if (first.length === 0) return [];
    await new Promise((r) => setTimeout(r, 1_000));
    const second = await list();
    return second.filter((z) => first.some((f) => f.split(' ')[0] === z.split(' ')[0]));
  }

  async function containerMemory(): Promise<Record<string, number>> {
    const ids = pool.config.containerSpecs.map((s) => s.id);
    const stats = await Promise.all(ids.map((id) => pool.runtime.stats(id)));
    return Object.fromEntries(ids.map((id, i) => [id, stats[i]!.memoryMB]));
  }

  /** What the container's memory is made of (for the printed figures): cgroup anon, page cache, tmpfs, server RSS. */
  async function breakdown(containerId: string): Promise<string> {
    const r = await sh(
      pool,
      containerId,
      // cgroup v2 names first (anon, file, shmem), then v1's hierarchical totals.
      'f=/sys/fs/cgroup/memory.stat; [ -r $f ] || f=/sys/fs/cgroup/memory/memory.stat; ' +
        'v() { n=$(grep -E "^$1 " $f | head -1 | cut -d" " -f2); [ -n "$n" ] || n=$(grep -E "^$2 " $f | head -1 | cut -d" " -f2); echo $((${n:-0} / 1048576)); }; ' +
        'echo "anon=$(v anon total_rss) cache=$(v file total_cache) shmem=$(v shmem total_shmem) server=$(($(ps -o rss= -p "$MCP_SERVER_PID") / 1024)) dirs=$(du -sk "$MCP_WORKDIR" "$MCP_TMPDIR" "$MCP_HOME" 2>/dev/null | awk "{s+=\\$1} END {print int(s/1024)}")"',
    ).catch((error: unknown) => ({ stdout: `? (${String(error).slice(0, 80)})` }));
    return `${containerId}: ${r.stdout.trim()}`;
  }

  function processMemory(gc: (() => void) | undefined) {
    if (gc) {
      gc();
      gc();
    }
    const m = process.memoryUsage();
    return { heapMB: mb(m.heapUsed), rssMB: mb(m.rss) };
  }

  it(
    `${CYCLES} allocate / soft-reset cycles: 0 zombies, bounded memory, no "already in use"`,
    async () => {
      const gc = forcedGc();
      const errors: string[] = [];
      const failures: string[] = [];
      const staleBrowser: string[] = [];
      const recycled: Array<Promise<unknown>> = [];
      const applied: Record<string, number> = {};
      let cleanupsFailed = 0;
      pool.manager.on('backgroundError', ({ error, context }) => errors.push(`background ${context}: ${String(error)}`));
      pool.manager.on('cleanupCompleted', (r) => {
        if (r.success) return;
        cleanupsFailed++;
        for (const s of r.stages) if (s.error) errors.push(`cleanup ${r.containerId} ${s.stage}: ${s.error}`);
      });
      pool.manager.on('resetCompleted', (r) => {
        for (const a of r.attempts) if (a.error) errors.push(`reset ${r.containerId} ${a.strategy}: ${a.error}`);
      });

      const cold = await containerMemory();
      // Warm-up: one browser launched, used and closed in each container, then both recycled.
      {
        const held = await Promise.all(pool.config.containerSpecs.map((_, i) => pool.manager.allocateContainerAdvanced({ testRunId: `warm-${i}` })));
        for (const a of held) {
          const b = await openBrowser(a.container.url, a.credential, 'faults-soak-warm');
          // The container's first Chromium launch: on a loaded 2-core machine it can take longer than a call's usual 30 s.
          const nav = await b.navigate(site.url('/soak?n=warm'), WARM_UP_NAVIGATE_MS).finally(() => b.close());
          expect(nav.isError, nav.text).toBe(false);
        }
        await Promise.all((await Promise.all(held.map((a) => pool.manager.releaseContainer(a.lease)))).map((r) => r.recycled));
        await until('both containers Available after warm-up', () => allAvailable(pool.manager), 60_000);
      }
      const warm = await containerMemory();
      const warmBreakdown = await Promise.all(pool.config.containerSpecs.map((c) => breakdown(c.id)));
      const procWarm = processMemory(gc);

      const t0 = performance.now();
      let browseMs = 0;
      let browsed = 0;
      let resets = 0;
      let cycles = 0;
      /** Cycles with any problem, their own steps or (found later) their recycle. */
      const failedCycles = new Set<number>();
      for (let i = 0; i < CYCLES && failures.length < MAX_FAILED_CYCLES; i++) {
        cycles++;
        // Reset, reset, release, release, ...: consecutive cycles land on alternate containers, so each container
        // sees both kinds (a plain i % 2 would give one container every reset and the other none).
        const resetCycle = Math.floor(i / 2) % 2 === 0;
        const browse = i % BROWSE_EVERY === 0;
        const problems: string[] = [];
        let allocation: Allocation | undefined;
        let browser: Browser | undefined;
        let beat: { stop(): void } | undefined;
        const mcp = async (what: string, call: () => Promise<{ isError: boolean; text: string }>, expectTitle: string) => {
          try {
            let r = await call();
            if (r.isError && STALE_BROWSER.test(r.text)) {
              // The known race (see STALE_BROWSER): counted and printed, then the same session must work.
              errors.push(`cycle ${i} ${what} (stale browser, retried): ${r.text}`);
              staleBrowser.push(`cycle ${i} ${resetCycle ? 'reset' : 'release'} ${what}`);
              await new Promise((resolve) => setTimeout(resolve, 500));
              r = await call();
            }
            if (r.isError) {
              errors.push(`cycle ${i} ${what}: ${r.text}`);
              problems.push(`${what}: ${r.text.replace(/\s+/g, ' ').slice(0, 160)}`);
            } else if (!r.text.includes(expectTitle)) {
              problems.push(`${what}: page title "${expectTitle}" not in the result`);
            }
          } catch (error) {
            errors.push(`cycle ${i} ${what} threw: ${String(error)}`);
            problems.push(`${what} threw: ${String(error).slice(0, 160)}`);
          }
        };
        try {
          allocation = await pool.manager.allocateContainerAdvanced({ testRunId: `soak-${i}`, timeoutMs: 60_000 });
          beat = heartbeat(pool.manager, allocation.lease);
          const b0 = performance.now();
          if (browse) {
            try {
              browser = await openBrowser(allocation.container.url, allocation.credential, 'faults-soak');
            } catch (error) {
              errors.push(`cycle ${i} open session threw: ${String(error)}`);
              problems.push(`open session threw: ${String(error).slice(0, 160)}`);
            }
            if (browser) await mcp('navigate', () => browser!.navigate(site.url(`/soak?n=${i}`)), `soak ${i}`);
          }
          if (resetCycle) {
            resets++;
            const r = await pool.manager.resetLeased(allocation.lease, 'soft');
            applied[r.applied ?? 'failed'] = (applied[r.applied ?? 'failed'] ?? 0) + 1;
            if (!r.success || r.applied !== 'soft') problems.push(`soft reset: success=${r.success} applied=${r.applied} ${r.attempts.map((a) => a.error ?? '').join(' | ').slice(0, 200)}`);
            if (browser) {
              // The reset ended the session: its client gets no further answer from the server ...
              const ended = await browser.navigate(site.url(`/soak?n=${i}x`)).then(
                (res) => (res.isError ? undefined : 'answered'),
                () => undefined,
              );
              if (ended) problems.push('the session still answered after the soft reset');
              await browser.close();
              // ... and a new session browses on in the kept browser, as the fixture's next test does.
              browser = undefined;
              try {
                browser = await openBrowser(allocation.container.url, allocation.credential, 'faults-soak');
              } catch (error) {
                errors.push(`cycle ${i} open session after soft reset threw: ${String(error)}`);
                problems.push(`open session after soft reset threw: ${String(error).slice(0, 160)}`);
              }
              if (browser) await mcp('navigate after soft reset', () => browser!.navigate(site.url(`/soak?n=${i}b`)), `soak ${i}b`);
            }
          }
          if (browse) {
            browsed++;
            browseMs += performance.now() - b0;
          }
        } catch (error) {
          errors.push(`cycle ${i}: ${String(error)}`);
          problems.push(String(error).slice(0, 200));
        } finally {
          await browser?.close();
          beat?.stop();
          if (allocation) {
            const cycle = i;
            try {
              const { recycled: done } = await pool.manager.releaseContainer(allocation.lease);
              // The next cycle gets the other container while this one is cleaned; the outcome is checked at the end.
              recycled.push(
                done.then(
                  (state) => {
                    if (state === 'Available') return;
                    failedCycles.add(cycle);
                    failures.push(`cycle ${cycle}: recycled to ${String(state)}`);
                  },
                  (error: unknown) => {
                    errors.push(`cycle ${cycle} recycle: ${String(error)}`);
                    failedCycles.add(cycle);
                    failures.push(`cycle ${cycle}: recycle threw ${String(error).slice(0, 160)}`);
                  },
                ),
              );
            } catch (error) {
              errors.push(`cycle ${i} release: ${String(error)}`);
              problems.push(`release threw: ${String(error).slice(0, 160)}`);
            }
          }
        }
        if (problems.length) {
          failedCycles.add(i);
          failures.push(`cycle ${i} (${resetCycle ? 'reset' : 'release'}${browse ? '+browse' : ''}): ${problems.join('; ')}`);
        }
      }
      await Promise.all(recycled);
      const loopMs = performance.now() - t0;
      await until('both containers Available after the soak', () => allAvailable(pool.manager), 60_000);
      const passed = cycles - failedCycles.size;

      const ids = pool.config.containerSpecs.map((s) => s.id);
      const zombieLists = await Promise.all(ids.map((id) => zombies(id)));
      const zombieCount = zombieLists.reduce((n, z) => n + z.length, 0);
      const end = await containerMemory();
      const endBreakdown = await Promise.all(ids.map((id) => breakdown(id)));
      const procEnd = processMemory(gc);

      const alreadyInUse = errors.filter((e) => /already in use/i.test(e));
      const growth = Object.fromEntries(ids.map((id) => [id, Math.round((end[id]! - warm[id]!) * 10) / 10]));
      const heapGrowth = Math.round((procEnd.heapMB - procWarm.heapMB) * 10) / 10;
      const rssGrowth = Math.round((procEnd.rssMB - procWarm.rssMB) * 10) / 10;
      const perCycle = Math.round(loopMs / cycles);
      const perBrowse = browsed ? Math.round(browseMs / browsed) : 0;

      for (const f of failures.slice(0, 20)) console.info(`[faults] 6 FAIL ${f}`);
      for (const b of staleBrowser) console.info(`[faults] 6 stale browser (first call failed, retry ok unless a FAIL says otherwise): ${b}`);
      for (const [id, z] of ids.map((id, i) => [id, zombieLists[i]!] as const)) if (z.length) console.info(`[faults] 6 zombies in ${id}: ${z.join(', ')}`);
      // The first errors in full (a browser that failed to launch lists its own log), the rest on one line each.
      for (const [n, e] of errors.slice(0, 20).entries()) console.info(`[faults] 6 error: ${n < 3 ? e : e.replace(/\s+/g, ' ').slice(0, 300)}`);
      console.info(
        `[faults] 6 memory: containers MB cold=${JSON.stringify(cold)} warm=${JSON.stringify(warm)} end=${JSON.stringify(end)}; ` +
          `process warm heap=${procWarm.heapMB} rss=${procWarm.rssMB}, end heap=${procEnd.heapMB} rss=${procEnd.rssMB} (gc ${gc ? 'forced' : 'unavailable'}); ` +
          `MB warm [${warmBreakdown.join('; ')}] end [${endBreakdown.join('; ')}]`,
      );
      resultLine(
        '6 soak',
        cycles,
        passed,
        `zombies=${zombieCount} resets=${resets} (applied ${JSON.stringify(applied)}) browsed=${browsed} staleBrowser=${staleBrowser.length} cleanupsFailed=${cleanupsFailed} ` +
          `alreadyInUse=${alreadyInUse.length} mcpAndPoolErrors=${errors.length} ` +
          `containerMemGrowthMB=${JSON.stringify(growth)} (bound +${CONTAINER_GROWTH_MB}) ` +
          `heapGrowthMB=${heapGrowth} (bound +${HEAP_GROWTH_MB}) rssGrowthMB=${rssGrowth} ` +
          `loop=${Math.round(loopMs / 1000)}s perCycle=${perCycle}ms perBrowseCycle=${perBrowse}ms`,
      );

      expect(failures).toEqual([]);
      expect(cycles).toBe(CYCLES);
      expect(zombieLists).toEqual(ids.map(() => []));
      expect(alreadyInUse).toEqual([]);
      for (const id of ids) expect(end[id]!, `${id} memory after the soak vs warm-up (${warm[id]} MB)`).toBeLessThanOrEqual(warm[id]! + CONTAINER_GROWTH_MB);
      if (gc) expect(heapGrowth, 'heap growth after forced GC, MB').toBeLessThan(HEAP_GROWTH_MB);
      else expect(rssGrowth, 'RSS growth, MB (no GC could be forced)').toBeLessThan(RSS_GROWTH_MB);
    },
    // The loop's own budget (≈ 2 s per cycle is several times the measured cost) plus pool start and checks.
    CYCLES * 2_000 + 120_000,
  );
});
