import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthChecker } from '../../src/health/health-checker.js';
import { dockerGate, heartbeat, openBrowser, resultLine, sh, startRealPool, until, allAvailable, type RealPool } from './support/real-pool.js';
import { startTestSite, type TestSite } from './support/test-site.js';

/**
 * Scenario 12: what a test can try through the MCP tools it is given (and, for the fork bomb, through exec as
 * the container user): read the container's files through file://, write to the root filesystem, exhaust
 * processes. Each must fail inside its own container, and the other container must not notice.
 */
const gate = await dockerGate('12 escape attempts');

describe.skipIf(gate.skip)('faults 12: escape attempts from a test', () => {
  let pool: RealPool;
  let site: TestSite;
  beforeAll(async () => {
    site = await startTestSite({ '/': () => ({ body: '<!doctype html><title>start</title><h1>start page</h1>' }) });
    pool = await startRealPool('escape');
  });
  afterAll(async () => {
    await pool?.close();
    await site?.close();
  });

  it('file:// blocked, root filesystem read-only, fork bomb stopped by the pids limit, the other container unaffected', async () => {
    const outcomes: Array<[string, boolean, string]> = [];
    const check = (name: string, ok: boolean, detail: string) => outcomes.push([name, ok, detail]);
    const attacker = await pool.manager.allocateContainerAdvanced({ testRunId: 'attacker', priority: 'normal' });
    const bystander = await pool.manager.allocateContainerAdvanced({ testRunId: 'bystander', priority: 'normal' });
    const beats = [heartbeat(pool.manager, attacker.lease), heartbeat(pool.manager, bystander.lease)];
    const browser = await openBrowser(attacker.container.url, attacker.credential, 'faults-escape');
    let bombDetail = '';
    try {
      expect((await browser.navigate(site.url('/'))).isError).toBe(false);

      // 1. file:// through each tool that can navigate.
      const nav = await browser.navigate('file:///etc/passwd');
      check('browser_navigate file://', nav.isError && !/root:x:0/.test(nav.text), nav.text.slice(0, 160));
      const viaPage = await browser.evaluate("() => { location.href = 'file:///etc/passwd'; return 'asked' }");
      await new Promise((r) => setTimeout(r, 300));
      const where = await browser.evaluate('() => location.href + " | " + document.body.innerText.slice(0, 40)');
      check('page script to file://', !viaPage.text.includes('root:x:0') && where.text.includes(site.url('/')) && !where.text.includes('root:x:0'), where.text.slice(0, 160));
      const popup = await browser.evaluate("() => { const w = window.open('file:///etc/passwd'); return String(!!w) }");
      const tabs = browser.toolNames.includes('browser_tabs') ? await browser.call('browser_tabs', { action: 'list' }) : { isError: false, text: '' };
      check('window.open file://', !popup.text.includes('root:x:0') && !tabs.text.includes('root:x:0'), tabs.text.replace(/\s+/g, ' ').slice(0, 200));
      if (browser.toolNames.includes('browser_run_code_unsafe')) {
        // Playwright driven directly bypasses the server's own file: check; Chromium's URLBlocklist policy in the image stops it.
        const code = await browser.call('browser_run_code_unsafe', {
          code: "async (page) => { await page.goto('file:///etc/passwd'); return (await page.content()).slice(0, 200) }",
        });
        check('run_code page.goto file://', code.isError && !code.text.includes('root:x:0'), code.text.slice(0, 160));
      }

      // 2. Writes to the root filesystem: from the browser's server process (what a test can reach) and as the container user.
      if (browser.toolNames.includes('browser_run_code_unsafe')) {
        const write = await browser.call('browser_run_code_unsafe', {
          code: "async (page) => { const p = this.constructor.constructor('return process')(); p.mainModule.require('fs').writeFileSync('/opt/mcp/escape-probe', 'x'); return 'written' }",
        });
        check('server process writes /opt', write.isError && /EROFS|read-only|EACCES/i.test(write.text), write.text.slice(0, 160));
      }
      const asUser = await sh(pool, attacker.container.id, 'for p in / /etc /usr /opt/mcp; do touch "$p/escape-probe" 2>&1 && echo "WROTE $p"; done; id -u');
      check('container user writes /, /etc, /usr, /opt', !asUser.stdout.includes('WROTE') && asUser.stdout.trim().endsWith('10001'), asUser.stdout.replace(/\s+/g, ' ').slice(0, 200));

      // 3. Fork bomb. `b | b &` doubles until fork fails at the pids limit. It carries a kill switch (a file it
      // tests with the `[` builtin before each fork) because nothing else can stop it from inside: `timeout` kills
      // only its direct child, the rest are re-parented to init and, left running, keep the container unable to
      // fork. The peak is sampled with the `read` builtin while the bomb saturates, since `cat` could not fork.
      const limit = (await pool.docker.getContainer(pool.nameOf(attacker.container.id)).inspect()).HostConfig.PidsLimit ?? 0;
      const bomb = await sh(
        pool,
        attacker.container.id,
        [
          'rm -f /tmp/bomb.stop /tmp/bomb.err',
          'f=/sys/fs/cgroup/pids.current; [ -r $f ] || f=/sys/fs/cgroup/pids/pids.current',
          `max=${limit}`,
          "sh -c 'b() { [ -e /tmp/bomb.stop ] && return; b | b & }; b' 2>/tmp/bomb.err &",
          // Shell builtins only (read, [, arithmetic): nothing here needs to fork while the bomb saturates. The
          // sampling stops once the count reaches the limit: on a loaded machine 30,000 reads alone outran the
          // exec's budget (peak never printed), while the limit itself is reached within moments.
          'i=0; m=0; while [ $i -lt 30000 ] && [ "$m" -lt "$max" ]; do read p < $f; [ "$p" -gt "$m" ] && m=$p; i=$((i + 1)); done',
          ': > /tmp/bomb.stop',
          'echo PEAK $m',
        ].join('\n'),
        // A budget, not a measurement: the bomb competes with everything else on 2 busy cores.
        60_000,
      ).catch((error: unknown) => ({ exitCode: -1, stdout: '', stderr: String(error) }));
      const peak = Number(bomb.stdout.match(/PEAK (\d+)/)?.[1] ?? 0);
      // Once stopped, the bomb drains (init reaps the orphans) and the container forks again.
      let after = '';
      await until('the bomb drained', async () => {
        const r = await sh(pool, attacker.container.id, 'echo ERR $(grep -c -i -E "fork|resource temporarily" /tmp/bomb.err); echo PIDS $(cat /sys/fs/cgroup/pids.current 2>/dev/null || cat /sys/fs/cgroup/pids/pids.current)', 5_000).catch(() => undefined);
        if (!r || r.exitCode !== 0 || Number(r.stdout.match(/PIDS (\d+)/)?.[1] ?? limit) > limit / 4) return false;
        after = r.stdout;
        return true;
      }, 30_000, 250);
      const failures = Number(after.match(/ERR (\d+)/)?.[1] ?? 0);
      bombDetail = `pids limit ${limit}, peak ${peak}, fork failures ${failures}, pids after ${after.match(/PIDS (\d+)/)?.[1] ?? '?'}`;
      check('fork bomb hit the pids limit', limit > 0 && failures > 0 && peak >= limit / 2 && peak <= limit, `${bombDetail}; ${bomb.stderr.slice(0, 120)}`);
      // The other container: health gate passes and its MCP server drives a browser.
      const health = new HealthChecker({ runtime: pool.runtime, credentialFor: pool.poolCredential });
      const report = await health.isContainerReady(bystander.container.port, bystander.container.id, { timeoutMs: 15_000 });
      const other = await openBrowser(bystander.container.url, bystander.credential, 'faults-bystander');
      const otherNav = await other.navigate(site.url('/')).finally(() => other.close());
      check('other container healthy and serving', report.ready && !otherNav.isError && otherNav.text.includes('start'), JSON.stringify(report.stages.map((s) => [s.stage, s.ok])));
    } finally {
      for (const [name, ok, detail] of outcomes) console.info(`[faults] 12 ${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
      const passed = outcomes.filter(([, ok]) => ok).length;
      // Printed before anything below can throw, so a red run still reports its figures.
      resultLine('12 escape attempts', outcomes.length, passed, `file://=blocked(navigate,script,popup,run_code) rootfs=read-only ${bombDetail}`);
      await browser.close();
      // Each lease is renewed until its own release. (Stopping both heartbeats first and awaiting the attacker's
      // recycle before releasing the bystander let the bystander's lease expire whenever that recycle outlasted
      // the TTL, as it did while a surviving bomb made cleanup fail stage by stage.)
      const recycled: Array<Promise<unknown>> = [];
      for (const [held, beat] of [[bystander, beats[1]!], [attacker, beats[0]!]] as const) {
        beat.stop();
        recycled.push((await pool.manager.releaseContainer({ leaseId: held.lease.leaseId, token: held.lease.token })).recycled);
      }
      await Promise.all(recycled);
    }
    // Whatever the bomb did to its own container, the pool ends at full strength.
    await until('both containers Available', () => allAvailable(pool.manager), 60_000);
    expect(outcomes.filter(([, ok]) => !ok)).toEqual([]);
  });

  it('a fork bomb still running at release: the recycle ends it (or restarts the container) without waiting out stage after stage', async () => {
    const held = await pool.manager.allocateContainerAdvanced({ testRunId: 'bomber', priority: 'normal' });
    const limit = (await pool.docker.getContainer(pool.nameOf(held.container.id)).inspect()).HostConfig.PidsLimit ?? 0;
    // No kill switch this time: the bomb outlives the exec (re-parented to init) and keeps the pids limit full.
    await sh(pool, held.container.id, "sh -c 'b() { b | b & }; b' >/dev/null 2>&1 &\nsleep 2", 10_000).catch(() => undefined);
    const t0 = performance.now();
    const state = await (await pool.manager.releaseContainer({ leaseId: held.lease.leaseId, token: held.lease.token })).recycled;
    const recycleMs = Math.round(performance.now() - t0);
    const audit = (await pool.manager.getAuditLog()).filter((e) => e.containerId === held.container.id && e.at >= held.lease.grantedAt);
    const cleanup = audit.find((e) => e.type === 'cleanup');
    const reset = audit.find((e) => e.type === 'reset');
    const failed = ((cleanup?.detail as { failed?: string[] } | undefined)?.failed ?? []).join(' | ');
    const pids = Number((await sh(pool, held.container.id, 'cat /sys/fs/cgroup/pids.current 2>/dev/null || cat /sys/fs/cgroup/pids/pids.current')).stdout.trim());
    resultLine(
      '12 fork bomb left running',
      1,
      state === 'Available' && pids < limit / 4 ? 1 : 0,
      `recycle=${recycleMs}ms cleanup=${cleanup?.outcome} (${(cleanup?.detail as { durationMs?: number } | undefined)?.durationMs} ms) reset=${reset ? JSON.stringify(reset.detail) : 'none'} pids after=${pids}/${limit}`,
    );
    if (failed) console.info(`[faults] 12 fork bomb cleanup failures: ${failed.slice(0, 1500)}`);
    expect(state).toBe('Available');
    expect(pids).toBeLessThan(limit / 4);
    if (cleanup?.outcome === 'failed') {
      // At most one stage waited out its budget (the rest are skipped), and the reset went straight to a restart.
      expect((failed.match(/ran longer than its|did not answer within/g) ?? []).length, failed.slice(0, 600)).toBeLessThanOrEqual(1);
      expect(reset?.detail).toMatchObject({ applied: expect.stringMatching(/^(hard|recovery)$/) });
    }
    await until('both containers Available', () => allAvailable(pool.manager), 60_000);
  });
});
