import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allAvailable, dockerGate, heartbeat, openBrowser, resultLine, sh, startRealPool, until, type RealPool } from './support/real-pool.js';
import { startTestSite, type TestSite } from './support/test-site.js';

/**
 * Scenario 7: heavy page. One container with the pool's defaults (512 MB of memory, 512 MB of /dev/shm) loads a
 * large page LOADS times through browser_navigate: a few MB of DOM plus many large bitmaps (canvases drawn by
 * the page and JPEG data-URL images made from them, each on its own compositing layer), under `aria-hidden`.
 * The page sets its title once every image has decoded and two frames have been produced; the test reads that
 * title back for every load. Pass: no "tab crashed" / "Target crashed" / "Page crashed" (nor any "crashed") in
 * any tool result, every load's title read back, the container never reported dead or out of memory.
 *
 * Each load gets a fresh tab (`browser_tabs new`, whose answer lists the loaded tab's title, then `close` of
 * the loaded one), as each test of a suite gets a fresh browser context. Without that, 100 navigations in one
 * tab measure Chromium's garbage collection rather than the page: V8 sizes its heap from the host's memory, not
 * the container's limit, so each same-tab navigation of a page like this one left the renderer ≈ 25-50 MB
 * bigger until the 512 MB container was OOM-killed after 3-9 loads (Chromium 156; flat at ≈ 180 MB when a GC
 * was forced between loads through CDP). That is a memory-limit finding of its own, not the shm question.
 *
 * What this proves about shm: the image's Chromium (156) allocates shared memory with memfd_create, not in
 * /dev/shm, so the sampled /dev/shm use is printed (0 MB on this image) and the tab survives because the
 * bitmaps fit the container's memory limit, where memfd pages are charged. With a Chromium that does use
 * /dev/shm (older builds), the same page is what catches an undersized shm.
 *
 * aria-hidden does not keep @playwright/mcp 0.0.83's snapshot small: it keeps aria-hidden subtrees (marked
 * `[aria-hidden]`), writing ≈ 430 bytes per laid-out row to a .playwright-mcp/*.yml file in the container's
 * workdir tmpfs (charged to its memory) and answering with a link to it. Hence few laid-out rows and most of
 * the DOM in a `hidden` block, which the snapshot leaves out.
 *
 * Sizes (measured on the 2-core machine this suite runs on): 300 laid-out rows plus 3,200 hidden ones
 * (≈ 1.7 MB of HTML, ≈ 14,000 elements) and 6 bitmaps of 1024² (24 MB of pixels, plus decoded images and
 * compositing tiles); the container peaked at ≈ 445 MB of its 512. Bigger pages did not fit: 6,000 laid-out
 * rows were OOM-killed on the first load; 1,000 laid-out + 4,000 hidden rows with 8 bitmaps peaked at
 * 440-490 MB and one run of 100 loads was OOM-killed at load 79. Most of the memory is the browser itself
 * (≈ 270-300 MB with a blank tab, its WebUI renderer ≈ 115 MB of it), not the page. ≈ 1 s per load
 * (navigate ≈ 0.6 s, reading the title and rotating the tab ≈ 0.3 s): 100 loads take ≈ 100 s.
 */
const gate = await dockerGate('7 heavy page');

/** The issue's count; CI sets FAULTS_HEAVY_LOADS lower to stay inside its time budget (the run's timeout follows it). */
const DEFAULT_LOADS = 100;
const LOADS = Number(process.env.FAULTS_HEAVY_LOADS ?? DEFAULT_LOADS);
if (!Number.isInteger(LOADS) || LOADS < 10) throw new Error(`FAULTS_HEAVY_LOADS must be an integer ≥ 10, got ${process.env.FAULTS_HEAVY_LOADS}`);
/** Rows laid out on the page (what costs layout and paint time). */
const VISIBLE_ROWS = 300;
/** Rows parsed into the DOM but in a `hidden` block: DOM size without layout time. */
const HIDDEN_ROWS = 3_200;
/** Bitmaps drawn per load, half kept as canvases and half turned into data-URL images; each SIZE² RGBA. */
const BITMAPS = 6;
const SIZE = 1_024;
const CRASH = /tab crashed|target crashed|page crashed|crashed/i;

function heavyPage(): string {
  const filler = 'the quick brown fox jumps over the lazy dog '.repeat(9);
  const row = (i: number) => `<div class="r" data-i="${i}"><span class="n">row ${i}</span><span class="t">${filler}</span><b>${i * 7919}</b></div>`;
  const rows = (from: number, count: number) => Array.from({ length: count }, (_, k) => row(from + k)).join('');
  const script = `
(async () => {
  const n = new URLSearchParams(location.search).get('n');
  const host = document.getElementById('bitmaps');
  const decoded = [];
  for (let k = 0; k < ${BITMAPS}; k++) {
    const c = document.createElement('canvas');
    c.width = c.height = ${SIZE};
    const g = c.getContext('2d');
    const grad = g.createLinearGradient(0, 0, ${SIZE}, ${SIZE});
    grad.addColorStop(0, 'hsl(' + ((k * 37 + Number(n)) % 360) + ',80%,50%)');
    grad.addColorStop(1, 'hsl(' + ((k * 91) % 360) + ',70%,30%)');
    g.fillStyle = grad;
    g.fillRect(0, 0, ${SIZE}, ${SIZE});
    for (let j = 0; j < 400; j++) {
      g.fillStyle = 'rgba(' + ((j * 53 + k) % 256) + ',' + ((j * 97) % 256) + ',' + ((j * 13 + k * 7) % 256) + ',0.6)';
      g.fillRect((j * 131) % ${SIZE}, (j * 71 + k * 17) % ${SIZE}, 24 + (j % 90), 24 + ((j * 3) % 90));
    }
    if (k % 2 === 0) {
      host.appendChild(c);
    } else {
      const img = new Image();
      img.width = img.height = ${SIZE};
      img.src = c.toDataURL('image/jpeg', 0.92);
      host.appendChild(img);
      decoded.push(img.decode());
    }
  }
  await Promise.all(decoded);
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  document.title = 'heavy done ' + n + ' ' + document.querySelectorAll('#bitmaps > *').length + ' ' + document.querySelectorAll('.r').length;
})().catch((e) => { document.title = 'heavy failed: ' + e; });`;
  return [
    '<!doctype html><html><head><meta charset="utf-8"><title>heavy loading</title><link rel="icon" href="data:,">',
    '<style>#bitmaps > * { display: block; width: 1024px; height: 1024px; will-change: transform; } .r { font: 12px sans-serif; }</style>',
    '</head><body><h1>heavy page</h1>',
    `<div id="rows" aria-hidden="true">${rows(0, VISIBLE_ROWS)}</div>`,
    `<div id="more" aria-hidden="true" hidden>${rows(VISIBLE_ROWS, HIDDEN_ROWS)}</div>`,
    '<div id="bitmaps" aria-hidden="true"></div>',
    `<script>${script}</script>`,
    '</body></html>',
  ].join('');
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const oneLine = (text: string, max = 200) => text.replace(/\s+/g, ' ').slice(0, max);

describe.skipIf(gate.skip)('faults 7: heavy page', () => {
  let pool: RealPool;
  let site: TestSite;
  const page = heavyPage();
  const pageMB = Math.round((page.length / 2 ** 20) * 10) / 10;
  beforeAll(async () => {
    site = await startTestSite({ '/heavy': () => ({ body: page }) });
    pool = await startRealPool('heavy', {}, 1);
  });
  afterAll(async () => {
    await pool?.close();
    await site?.close();
  });

  it(`${LOADS} loads of a ${pageMB} MB page with ${BITMAPS} ${SIZE}² bitmaps: no crash, every title read back`, async () => {
    const held = await pool.manager.allocateContainerAdvanced({ testRunId: 'heavy' });
    const id = held.container.id;
    const beat = heartbeat(pool.manager, held.lease);
    const poolEvents: string[] = [];
    const notes: string[] = [];
    pool.manager.on('containerUnhealthy', (e) => poolEvents.push(`unhealthy ${e.containerId}: ${e.reason}`));
    pool.manager.on('leaseRevoked', (e) => poolEvents.push(`lease revoked: ${e.reason}`));
    pool.manager.on('memoryThresholdExceeded', (e) => notes.push(`memory threshold exceeded: ${e.memoryUsage} MB > ${e.threshold} MB`));
    const browser = await openBrowser(held.container.url, held.credential, 'faults-heavy');
    const texts: string[] = [];
    const failures: string[] = [];
    const loadMs: number[] = [];
    let titleFallbacks = 0;
    let statsPeakMB = 0;
    let shmPeakMB = 0;
    let sampling = true;
    // Sampled while the loads run: runtime.stats (≈ 1 s per answer) and /dev/shm's use.
    const sampler = (async () => {
      while (sampling) {
        const [stats, shm] = await Promise.all([
          pool.runtime.stats(id).catch(() => undefined),
          sh(pool, id, 'df -k /dev/shm | tail -1', 5_000).catch(() => undefined),
        ]);
        if (stats) statsPeakMB = Math.max(statsPeakMB, stats.memoryMB);
        const usedKb = Number(shm?.stdout.trim().split(/\s+/)[2]);
        if (Number.isFinite(usedKb)) shmPeakMB = Math.max(shmPeakMB, Math.round(usedKb / 102.4) / 10);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const record = (r: { isError: boolean; text: string }) => {
      texts.push(r.text);
      return r;
    };
    const t0 = performance.now();
    try {
      for (let i = 0; i < LOADS; i++) {
        // A container reported dead ends the run: every further load would only fail the same way.
        if (poolEvents.length) break;
        const started = performance.now();
        const expected = `heavy done ${i} ${BITMAPS} ${VISIBLE_ROWS + HIDDEN_ROWS}`;
        try {
          const nav = record(await browser.navigate(site.url(`/heavy?n=${i}`), 60_000));
          if (nav.isError) {
            failures.push(`load ${i}: navigate: ${oneLine(nav.text)}`);
            continue;
          }
          // A fresh tab for the next load; its answer lists the tabs with their titles, the loaded one included.
          const fresh = record(await browser.call('browser_tabs', { action: 'new' }));
          let title = fresh.text.match(/- 0: \[([^\]]*)\]/)?.[1] ?? '';
          if (!fresh.isError && !title.startsWith('heavy done')) {
            // Not drawn yet when the tab list was read: wait for it in the loaded tab.
            titleFallbacks++;
            record(await browser.call('browser_tabs', { action: 'select', index: 0 }));
            const waited = record(
              await browser.evaluate(
                "() => new Promise((resolve) => { const poll = () => document.title !== 'heavy loading' ? resolve(document.title) : setTimeout(poll, 20); poll(); })",
                60_000,
              ),
            );
            title = waited.isError ? waited.text : (waited.text.match(/"([^"]*)"/)?.[1] ?? waited.text);
          }
          if (fresh.isError || title !== expected) {
            failures.push(`load ${i}: title: ${oneLine(fresh.isError ? fresh.text : title)} (expected "${expected}")`);
            continue;
          }
          loadMs.push(performance.now() - started);
          const closed = record(await browser.call('browser_tabs', { action: 'close', index: 0 }));
          if (closed.isError || /- 1:/.test(closed.text)) failures.push(`load ${i}: closing the loaded tab: ${oneLine(closed.text)}`);
        } catch (error) {
          texts.push(String(error));
          failures.push(`load ${i}: threw ${oneLine(String(error))}`);
        }
      }
    } finally {
      sampling = false;
      await sampler;
      await browser.close();
      beat.stop();
    }
    const totalS = Math.round((performance.now() - t0) / 100) / 10;
    // Peak of the container's memory cgroup over the whole run (page cache included): memory.peak on cgroup v2,
    // memory.max_usage_in_bytes on v1.
    const peak = await sh(
      pool,
      id,
      'cat /sys/fs/cgroup/memory.peak 2>/dev/null || cat /sys/fs/cgroup/memory/memory.max_usage_in_bytes; cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes',
    ).catch((error: unknown) => ({ exitCode: -1, stdout: '', stderr: String(error) }));
    const [peakBytes, limitBytes] = peak.stdout.trim().split('\n').map(Number);
    const cgroupPeakMB = Math.round((peakBytes ?? 0) / 2 ** 20);
    const limitMB = Math.round((limitBytes ?? 0) / 2 ** 20);

    const crashes = texts.filter((t) => CRASH.test(t));
    const sorted = [...loadMs].sort((a, b) => a - b);
    for (const f of failures.slice(0, 20)) console.info(`[faults] 7 FAIL ${f}`);
    for (const c of crashes.slice(0, 5)) console.info(`[faults] 7 crash text: ${oneLine(c, 300)}`);
    for (const e of [...poolEvents, ...notes]) console.info(`[faults] 7 pool: ${oneLine(e, 300)}`);
    // Printed before the release below can throw, so a red run still reports its figures.
    resultLine(
      '7 heavy page',
      LOADS,
      loadMs.length,
      `crashes=${crashes.length} page=${pageMB}MB html (${VISIBLE_ROWS + HIDDEN_ROWS} rows) + ${BITMAPS}x${SIZE}² bitmaps ` +
        `load p50=${Math.round(percentile(sorted, 50))}ms p95=${Math.round(percentile(sorted, 95))}ms total=${totalS}s ` +
        `container peak=${cgroupPeakMB}MB of ${limitMB}MB (cgroup, page cache incl.) statsPeak=${statsPeakMB}MB ` +
        `devShmPeak=${shmPeakMB}MB of 512MB titleFallbacks=${titleFallbacks}`,
    );
    // A revoked lease (the container failed) is already reported above and fails the test below; the pool
    // recovers the container on its own, and the wait below proves it.
    await pool.manager
      .releaseContainer(held.lease)
      .then((r) => r.recycled)
      .catch((error: unknown) => poolEvents.push(`release: ${String(error)}`));
    await until('the container back in the pool', () => allAvailable(pool.manager), 90_000);
    expect(crashes).toEqual([]);
    expect(failures).toEqual([]);
    expect(poolEvents).toEqual([]);
    expect(loadMs.length).toBe(LOADS);
    // A guard against a hung run, not a speed target: ≈ 1 s per load on a quiet machine (100 s in all), but a
    // clean-clone CI run at the end of a long suite took more than the project's 180 s for the 100 loads.
  }, 900_000);
});
