import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerSpec } from '../../src/config/pool-config.js';
import { isPoolError } from '../../src/errors/pool-error.js';
import { HealthChecker } from '../../src/health/health-checker.js';
import { healthGateError } from '../../src/health/health-gate-error.js';
import type { RuntimeEvent, StartContext } from '../../src/runtime/container-runtime.js';
import { MemberCredentials } from '../../src/runtime/member-credentials.js';
import { processTree } from '../../src/runtime/proc-table.js';
import { ProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import { freePort } from '../support/ports.js';

const poolId = `ithc-${process.pid}`;
const credentials = new MemberCredentials();
const ctx: StartContext = { poolId, runId: 'run-1', guardKey: (id) => credentials.keyOf(id) };
/**
 * Budgets of the checker under test, and what "fast" means against them. A fast answer (a refused connection,
 * a 403, a died event, tools/list on a warm server) is one or two local round trips: well under 100 ms quiet,
 * at most a few scheduling delays with both cores busy. A slow failure waits out a stage budget. FAST_MS is
 * a quarter of that budget: generous on a loaded machine, and still a clear line between the two.
 */
const STAGE_TIMEOUT_MS = 20_000;
const GATE_TIMEOUT_MS = 60_000;
const FAST_MS = STAGE_TIMEOUT_MS / 4;


describe('HealthChecker against real @playwright/mcp servers', () => {
  let rootDir: string;
  let runtime: ProcessRuntime;
  let checker: HealthChecker;
  const specs: ContainerSpec[] = [];
  const events: RuntimeEvent[] = [];

  beforeAll(async () => {
    rootDir = await mkdtemp(join(tmpdir(), 'cqa-ithc-'));
    runtime = new ProcessRuntime({ rootDir, killGraceMs: 2_000 });
    runtime.onEvent((e) => events.push(e));
    checker = new HealthChecker({
      runtime,
      config: { stageTimeoutMs: STAGE_TIMEOUT_MS, startupTimeoutMs: GATE_TIMEOUT_MS },
      credentialFor: (id) => credentials.forPool(id),
    });
    for (const i of [1, 2]) specs.push({ id: `container-${i}`, name: `${poolId}-${i}`, port: await freePort(), memoryMB: 512, cpuPercent: 80 });
  });

  afterAll(async () => {
    await runtime?.close();
    await rm(rootDir, { recursive: true, force: true });
  });

  it('gates two freshly started members through all three stages', async () => {
    const t0 = performance.now();
    const reports = await Promise.all(
      specs.map(async (s) => {
        await runtime.start(s, ctx);
        return checker.isContainerReady(s.port, s.id);
      }),
    );
    const elapsed = performance.now() - t0;
    for (const report of reports) {
      expect(report.ready, JSON.stringify(report)).toBe(true);
      expect(report.stages.map((s) => `${s.stage}:${s.ok}`)).toEqual(['tcp:true', 'mcp:true', 'runtime:true']);
      expect(report.stages[1]?.detail).toMatch(/initialize, ping, \d+ tools$/);
      console.log(`[timing] cold ${report.containerId}: start→ready ${Math.round(elapsed)} ms; ${report.stages.map((s) => `${s.stage} ${Math.round(s.durationMs)} ms`).join(', ')}`);
    }
  });

  it('a routine check of a running member is quick and starts no browser', async () => {
    const [first] = specs;
    const report = await checker.isContainerReady(first!.port, first!.id);
    expect(report.ready).toBe(true);
    expect(report.durationMs).toBeLessThan(FAST_MS);
    console.log(`[timing] warm ${report.containerId}: total ${Math.round(report.durationMs)} ms; ${report.stages.map((s) => `${s.stage} ${Math.round(s.durationMs)} ms`).join(', ')}`);
    const pid = Number((await runtime.exec(first!.id, ['sh', '-c', 'echo $MCP_SERVER_PID'])).stdout.trim());
    // tools/list needs no browser: the gate must not launch Chromium on every check.
    expect(processTree(pid).map((e) => e.pid)).toEqual([pid]);
  });

  it('a non-localhost URL hits the server\'s Host check: mcp fails fast with the fix', async () => {
    const [first] = specs;
    // 127.0.0.1:PORT is an accepted Host (the Origin/Host guard's rule); the IPv4-mapped IPv6 form reaches the
    // same listener with a Host header that is neither localhost nor 127.0.0.1.
    const strict = new HealthChecker({
      runtime,
      config: { stageTimeoutMs: STAGE_TIMEOUT_MS },
      mcpUrl: (port) => new URL(`http://[::ffff:127.0.0.1]:${port}/mcp`),
      credentialFor: (id) => credentials.forPool(id),
    });
    const report = await strict.isContainerReady(first!.port, first!.id);
    expect(report.failedStage).toBe('mcp');
    expect(report.stages[1]?.error).toMatch(/403/);
    expect(report.stages[1]!.durationMs).toBeLessThan(FAST_MS);
    const error = healthGateError(report, { containerName: first!.name });
    expect(error.message).toContain(`stage 'mcp'`);
    expect(error.message).toMatch(/connect as http:\/\/localhost:\d+\/mcp/);
  });

  it('without the pool\'s credential (or with another run\'s) the guard refuses the mcp stage at once: 401 naming the member', async () => {
    const [first] = specs;
    const checkers = [
      new HealthChecker({ runtime, config: { stageTimeoutMs: STAGE_TIMEOUT_MS } }),
      new HealthChecker({ runtime, config: { stageTimeoutMs: STAGE_TIMEOUT_MS }, credentialFor: (id) => new MemberCredentials().forPool(id) }),
    ];
    for (const [i, refused] of checkers.entries()) {
      const report = await refused.isContainerReady(first!.port, first!.id);
      expect(report.failedStage).toBe('mcp');
      expect(report.stages[1]?.error).toMatch(/401/);
      expect(report.stages[1]?.error).toMatch(i === 0 ? /no credential/ : /signature does not match/);
      expect(report.stages[1]?.error).toContain(`pool member ${first!.id}`);
      // Refused, not timed out: a 4xx ends the stage at once (the retry loop's error reads "no MCP answer ...
      // within the budget" instead), whatever the machine's load.
      expect(report.stages[1]?.error).toMatch(/refused the MCP handshake: HTTP 401/);
    }
  });

  it('a killed member: died at once (FAST_MS), then the gate fails at runtime or tcp naming it', async () => {
    const second = specs[1]!;
    const pid = Number((await runtime.exec(second.id, ['sh', '-c', 'echo $MCP_SERVER_PID'])).stdout.trim());
    const died = new Promise<RuntimeEvent>((resolve) => {
      const off = runtime.onEvent((e) => {
        if (e.type === 'died' && e.containerId === second.id) {
          off();
          resolve(e);
        }
      });
    });
    const killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    const event = await died;
    expect(performance.now() - killedAt).toBeLessThan(FAST_MS);
    expect(event.type === 'died' && event.reason).toMatch(/killed by SIGKILL/);

    const report = await checker.isContainerReady(second.port, second.id, { timeoutMs: GATE_TIMEOUT_MS });
    expect(report.ready).toBe(false);
    expect(['tcp', 'runtime']).toContain(report.failedStage);
    expect(report.durationMs).toBeLessThan(FAST_MS);

    const error = healthGateError(report, { containerName: second.name });
    expect(isPoolError(error, 'HEALTH_GATE_FAILED')).toBe(true);
    expect(error.message).toMatch(new RegExp(`^Container ${second.name} / ${second.id} \\(port ${second.port}\\) failed the health gate at stage '(tcp|runtime)'`));
    expect(error.message).toMatch(/killed by SIGKILL/);
    expect(error.message).toMatch(/Fix: /);
  });

  it('a gate racing the kill still fails fast (not after a stage budget)', async () => {
    const second = specs[1]!;
    await runtime.recreate(second.id);
    expect((await checker.isContainerReady(second.port, second.id)).ready).toBe(true);
    const pid = Number((await runtime.exec(second.id, ['sh', '-c', 'echo $MCP_SERVER_PID'])).stdout.trim());
    process.kill(pid, 'SIGKILL');
    const report = await checker.isContainerReady(second.port, second.id, { timeoutMs: GATE_TIMEOUT_MS });
    expect(report.ready).toBe(false);
    expect(report.durationMs).toBeLessThan(FAST_MS);
    expect(report.stages.at(-1)?.error).toMatch(/not running|killed by SIGKILL|ECONNREFUSED/);
  });

  it('a recreated member passes again', async () => {
    const second = specs[1]!;
    const info = await runtime.recreate(second.id);
    const report = await checker.isContainerReady(info.port, info.id);
    expect(report.ready, JSON.stringify(report)).toBe(true);
  });
});
