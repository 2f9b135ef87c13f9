import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthChecker } from '../../src/health/health-checker.js';
import { allAvailable, dockerGate, heartbeat, nextEvent, openBrowser, resultLine, sh, startRealPool, until, type RealPool } from './support/real-pool.js';
import { startTestSite, type TestSite } from './support/test-site.js';

/**
 * Scenario 5: a pool container dies (`docker kill`), or the Chromium inside one dies under a test (killed by
 * exec while a call is in flight). The death must be known through events (Docker's events stream;
 * Playwright's browser disconnect), within DETECT_BUDGET_MS; no allocation may be handed the dead container
 * before it is healthy again, and the pool must end at full strength.
 */
const gate = await dockerGate('5 container death');
const RUNS_PER_KIND = 2;
/**
 * Budget for "the death is known": both paths are event-driven (Docker's event stream; the MCP server hearing
 * its browser disconnect), measured here at ≤ 274 ms and ≤ 125 ms on a quiet machine. What can delay them is
 * scheduling (dockerd, the server and this process sharing 2 busy cores), not a timer of ours, so the budget
 * is generous: 5 s. It still tells events from the fallbacks, which are far slower: the health poll runs
 * every 30 s (healthCheckIntervalMs default) and the in-flight page answers only after 15 s.
 */
const DETECT_BUDGET_MS = 5_000;

describe.skipIf(gate.skip)('faults 5: container death', () => {
  let pool: RealPool;
  let site: TestSite;
  let health: HealthChecker;
  beforeAll(async () => {
    site = await startTestSite({
      '/': () => ({ body: '<!doctype html><title>alive</title><h1>alive</h1>' }),
      // Keeps a navigation in flight while the browser is killed under it.
      '/slow': () => ({ body: '<!doctype html><title>slow</title>late', delayMs: 15_000 }),
    });
    pool = await startRealPool('death');
    health = new HealthChecker({ runtime: pool.runtime, credentialFor: pool.poolCredential });
  });
  afterAll(async () => {
    await pool?.close();
    await site?.close();
  });

  /** A grant is only acceptable if the container answers MCP and drives a browser right then (as its holder). */
  async function provesHealthy(held: { container: { id: string; url: string; port: number }; credential: string }): Promise<boolean> {
    const report = await health.isContainerReady(held.container.port, held.container.id, { timeoutMs: 10_000 });
    if (!report.ready) return false;
    const browser = await openBrowser(held.container.url, held.credential, 'faults-death-check');
    try {
      return !(await browser.navigate(site.url('/'))).isError;
    } finally {
      await browser.close();
    }
  }

  /** Releases a lease; when the pool refuses (it ended the lease itself), says from the audit log why. */
  async function release(lease: { leaseId: string; token: number; containerId: string }): Promise<void> {
    try {
      await (await pool.manager.releaseContainer({ leaseId: lease.leaseId, token: lease.token })).recycled;
    } catch (error) {
      const why = (await pool.manager.getAuditLog()).filter((e) => e.containerId === lease.containerId).slice(-12);
      console.info(`[faults] 5 release of ${lease.leaseId} on ${lease.containerId} refused; its container's last audit events:\n${why.map((e) => JSON.stringify(e)).join('\n')}`);
      throw error;
    }
  }

  it('docker kill and Chromium kill: detected by events (within 5 s, far under the 30 s health poll), never handed out dead, pool back to full strength', async () => {
    const results: Array<{ kind: string; ok: boolean; detectMs: number; detail: string }> = [];
    const grants: Array<{ containerId: string; at: number }> = [];
    pool.manager.on('containerAllocated', ({ lease }) => grants.push({ containerId: lease.containerId, at: performance.now() }));

    for (let run = 0; run < RUNS_PER_KIND; run++) {
      await until('pool at full strength', () => allAvailable(pool.manager), 60_000);
      // --- docker kill of a leased container whose browser is in use
      {
        const victim = await pool.manager.allocateContainerAdvanced({ testRunId: `victim-${run}`, priority: 'high' });
        const vid = victim.container.id;
        const holdVictim = heartbeat(pool.manager, victim.lease); // until the kill revokes it
        const browser = await openBrowser(victim.container.url, victim.credential, 'faults-victim');
        await browser.navigate(site.url('/'));
        const unhealthy = nextEvent(pool.manager, 'containerUnhealthy', 10_000, (e) => e.containerId === vid);
        const revoked = nextEvent(pool.manager, 'leaseRevoked', 10_000, (e) => e.lease.leaseId === victim.lease.leaseId);
        let healthyAt = Number.POSITIVE_INFINITY;
        const onHealthy = ({ containerId }: { containerId: string }) => {
          if (containerId === vid && healthyAt === Number.POSITIVE_INFINITY) healthyAt = performance.now();
        };
        pool.manager.on('containerHealthy', onHealthy);
        const killedAt = performance.now();
        await new Docker().getContainer(pool.nameOf(vid)).kill();
        await unhealthy;
        const detectMs = performance.now() - killedAt;
        await revoked;
        holdVictim.stop();
        // Right after the kill: the only grantable container is the other one, and it works.
        const next = await pool.manager.allocateContainerAdvanced({ testRunId: `after-kill-${run}`, priority: 'high' });
        const hold = heartbeat(pool.manager, next.lease);
        const nextOk = next.container.id !== vid && (await provesHealthy(next));
        // A second request must wait for the dead one to come back, and get it healthy.
        const waiting = await pool.manager.allocateContainerAdvanced({ testRunId: `waits-${run}`, priority: 'high', timeoutMs: 90_000 });
        // Every lease held across real work is renewed: proving a container healthy (a browser launch and a
        // navigation) outlasted the 15 s TTL with both cores busy, and the lease expired before its release.
        const holdWaiting = heartbeat(pool.manager, waiting.lease);
        const grantedAt = grants.find((g) => g.containerId === vid && g.at > killedAt)?.at ?? 0;
        const waitingOk = waiting.container.id === vid && grantedAt >= healthyAt && (await provesHealthy(waiting));
        hold.stop();
        holdWaiting.stop();
        pool.manager.off('containerHealthy', onHealthy);
        await browser.close();
        for (const a of [next, waiting]) await release(a.lease);
        const ok = detectMs <= DETECT_BUDGET_MS && nextOk && waitingOk;
        results.push({ kind: 'docker-kill', ok, detectMs, detail: `next=${next.container.id}/${nextOk} waiting=${waiting.container.id}/${waitingOk} recovered ${Math.round(healthyAt - killedAt)} ms` });
      }
      await until('pool at full strength', () => allAvailable(pool.manager), 60_000);
      // --- Chromium killed inside while a navigation is in flight
      {
        const holder = await pool.manager.allocateContainerAdvanced({ testRunId: `holder-${run}`, priority: 'high' });
        const hold = heartbeat(pool.manager, holder.lease);
        const browser = await openBrowser(holder.container.url, holder.credential, 'faults-chromium');
        await browser.navigate(site.url('/'));
        const inFlight = browser.navigate(site.url('/slow'), 30_000).then((r) => ({ ...r, at: performance.now() }));
        await new Promise((r) => setTimeout(r, 300));
        const killedAt = performance.now();
        // The browser is the MCP server's child; its helpers die with it (or are reaped by the init process).
        await sh(pool, holder.container.id, 'for p in $(pgrep -P "$MCP_SERVER_PID"); do kill -9 "$p"; done');
        const failed = await inFlight;
        const detectMs = failed.at - killedAt;
        const told = failed.isError && /closed|crash|disconnect/i.test(failed.text);
        // The same test can carry on: the server launches a fresh browser on the next call.
        const again = await browser.navigate(site.url('/'));
        await browser.close();
        hold.stop();
        await release(holder.lease);
        // The next holders of both containers get a working browser.
        const a = await pool.manager.allocateContainerAdvanced({ testRunId: `next-a-${run}`, priority: 'high' });
        const b = await pool.manager.allocateContainerAdvanced({ testRunId: `next-b-${run}`, priority: 'high' });
        const holds = [heartbeat(pool.manager, a.lease), heartbeat(pool.manager, b.lease)];
        const nextOk = (await provesHealthy(a)) && (await provesHealthy(b));
        for (const h of holds) h.stop();
        for (const l of [a, b]) await release(l.lease);
        const ok = detectMs <= DETECT_BUDGET_MS && told && !again.isError && nextOk;
        results.push({ kind: 'chromium-kill', ok, detectMs, detail: `told=${told} (${failed.text.replace(/\s+/g, ' ').slice(0, 80)}) sameTestRecovers=${!again.isError} next=${nextOk}` });
      }
    }
    await until('pool at full strength', () => allAvailable(pool.manager), 60_000);
    for (const r of results) console.info(`[faults] 5 ${r.ok ? 'ok  ' : 'FAIL'} ${r.kind}: detected ${Math.round(r.detectMs)} ms; ${r.detail}`);
    const max = (kind: string) => Math.round(Math.max(...results.filter((r) => r.kind === kind).map((r) => r.detectMs)));
    resultLine('5 container death', results.length, results.filter((r) => r.ok).length, `detect max docker-kill=${max('docker-kill')}ms chromium-kill=${max('chromium-kill')}ms`);
    expect(results.filter((r) => !r.ok)).toEqual([]);
  });
});
